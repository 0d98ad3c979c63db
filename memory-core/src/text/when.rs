//! The time a query asks about ("last week", "in May 2023", "昨日",
//! "semana passada"), as a window of time, so a search can favour memories
//! of things that happened then.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

/// A span of time a query names: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Where it starts.
    pub start: DateTime<Utc>,
    /// Where it ends (exclusive).
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    /// 1 for a time inside the window, halving with every window length
    /// (a day at least) it lies outside.
    pub fn closeness(&self, t: DateTime<Utc>) -> f32 {
        let outside = if t < self.start {
            self.start - t
        } else if t >= self.end {
            t - self.end
        } else {
            return 1.0;
        };
        let len = (self.end - self.start).max(Duration::days(1));
        #[allow(clippy::cast_precision_loss)]
        let lengths = outside.num_seconds() as f64 / len.num_seconds() as f64;
        #[allow(clippy::cast_possible_truncation)]
        let v = 0.5f64.powf(lengths) as f32;
        v
    }
}

const MONTHS: [[&str; 3]; 12] = [
    ["january", "janeiro", "jan"],
    ["february", "fevereiro", "feb"],
    ["march", "março", "mar"],
    ["april", "abril", "apr"],
    ["may", "maio", "may"],
    ["june", "junho", "jun"],
    ["july", "julho", "jul"],
    ["august", "agosto", "aug"],
    ["september", "setembro", "sep"],
    ["october", "outubro", "oct"],
    ["november", "novembro", "nov"],
    ["december", "dezembro", "dec"],
];

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
}

fn days(from: NaiveDate, n: i64) -> TimeWindow {
    TimeWindow {
        start: day_start(from),
        end: day_start(from) + Duration::days(n),
    }
}

fn month(year: i32, month: u32) -> Option<TimeWindow> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    Some(TimeWindow {
        start: day_start(first),
        end: day_start(next),
    })
}

fn year(y: i32) -> Option<TimeWindow> {
    Some(TimeWindow {
        start: day_start(NaiveDate::from_ymd_opt(y, 1, 1)?),
        end: day_start(NaiveDate::from_ymd_opt(y + 1, 1, 1)?),
    })
}

/// The month `back` months before `now`'s.
fn months_back(now: NaiveDate, back: i32) -> Option<TimeWindow> {
    let total = now.year() * 12 + now.month0() as i32 - back;
    month(
        total.div_euclid(12),
        u32::try_from(total.rem_euclid(12)).ok()? + 1,
    )
}

fn week_of(d: NaiveDate) -> TimeWindow {
    days(
        d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
        7,
    )
}

fn number(word: &str) -> Option<i64> {
    match word {
        "a" | "an" | "one" | "um" | "uma" => Some(1),
        "two" | "dois" | "duas" => Some(2),
        "three" | "três" | "tres" => Some(3),
        "four" | "quatro" => Some(4),
        "five" | "cinco" => Some(5),
        "six" | "seis" => Some(6),
        _ => word.parse().ok().filter(|n| (1..=1000).contains(n)),
    }
}

fn plausible_year(word: &str) -> Option<i32> {
    let y: i32 = word.parse().ok()?;
    (word.len() == 4 && (1900..=2200).contains(&y)).then_some(y)
}

/// The window the query's first time expression names, read against `now`;
/// `None` when it names no time.
pub fn time_window(query: &str, now: DateTime<Utc>) -> Option<TimeWindow> {
    let today = now.date_naive();
    if let Some(w) = japanese(query, today) {
        return Some(w);
    }
    let lower = query.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .collect();
    let at = |i: usize| words.get(i).copied().unwrap_or("");
    for i in 0..words.len() {
        let (w, next, prev) = (at(i), at(i + 1), if i > 0 { at(i - 1) } else { "" });
        let found = match (w, next) {
            ("today" | "tonight" | "hoje", _) => Some(days(today, 1)),
            ("yesterday" | "ontem", _) => Some(days(today - Duration::days(1), 1)),
            ("last", "night") => Some(days(today - Duration::days(1), 1)),
            ("this" | "esta" | "este", "week" | "semana") => Some(week_of(today)),
            ("last", "week") | ("semana", "passada") => Some(week_of(today - Duration::days(7))),
            ("this" | "este", "month" | "mês" | "mes") => months_back(today, 0),
            ("last", "month") | ("mês" | "mes", "passado") => months_back(today, 1),
            ("this" | "este", "year" | "ano") => year(today.year()),
            ("last", "year") | ("ano", "passado") => year(today.year() - 1),
            ("last" | "this", "weekend") => {
                let back = i64::from(today.weekday().num_days_from_monday()) + 2;
                let saturday = today - Duration::days(if w == "last" { back } else { back - 7 });
                Some(days(saturday, 2))
            }
            ("ago", _) => number(at(i.wrapping_sub(2))).and_then(|n| match prev {
                "day" | "days" => Some(days(today - Duration::days(n), 1)),
                "week" | "weeks" => Some(week_of(today - Duration::weeks(n))),
                "month" | "months" => months_back(today, i32::try_from(n).ok()?),
                "year" | "years" => year(today.year() - i32::try_from(n).ok()?),
                _ => None,
            }),
            _ => None,
        }
        .or_else(|| weekday(w, prev, today))
        .or_else(|| {
            // "May 2023", "maio de 2022", "May of 2021".
            let year_after = plausible_year(next).or_else(|| {
                matches!(next, "de" | "of")
                    .then(|| plausible_year(at(i + 2)))
                    .flatten()
            });
            named_month(w, prev, year_after, today)
        })
        .or_else(|| {
            // A year needs a preposition: "2000 followers" is a count.
            plausible_year(w)
                .filter(|_| introduces(prev))
                .and_then(year)
        })
        .or_else(|| {
            NaiveDate::parse_from_str(w, "%Y-%m-%d")
                .ok()
                .map(|d| days(d, 1))
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Whether `word` introduces a time ("in May", "during 2022", "em maio").
fn introduces(word: &str) -> bool {
    matches!(
        word,
        "in" | "during" | "since" | "of" | "em" | "de" | "durante"
    )
}

/// "last Monday", "on Monday": the latest such day before today.
fn weekday(w: &str, prev: &str, today: NaiveDate) -> Option<TimeWindow> {
    let (_, day) = WEEKDAYS.iter().find(|(name, _)| *name == w)?;
    if !matches!(prev, "last" | "on") {
        return None;
    }
    let mut back = (7 + i64::from(today.weekday().num_days_from_monday())
        - i64::from(day.num_days_from_monday()))
        % 7;
    if back == 0 {
        back = 7;
    }
    Some(days(today - Duration::days(back), 1))
}

/// "May 2023", "in March", "em maio de 2022": that month, the latest one
/// up to today when no year is given. A month's name needs a year or a
/// preposition ("may" and "march" are also a verb).
fn named_month(
    w: &str,
    prev: &str,
    year_after: Option<i32>,
    today: NaiveDate,
) -> Option<TimeWindow> {
    let m = MONTHS.iter().position(|names| names.contains(&w))?;
    let m = u32::try_from(m).ok()? + 1;
    if year_after.is_none() && !introduces(prev) {
        return None;
    }
    let y = year_after.unwrap_or(if m <= today.month() {
        today.year()
    } else {
        today.year() - 1
    });
    month(y, m)
}

/// Reads a fixed expression's window from today's date.
type Reading = fn(NaiveDate) -> Option<TimeWindow>;

/// 今日, 昨日, 今週, 先週, 今月, 先月, 今年, 去年/昨年, N月, YYYY年.
fn japanese(query: &str, today: NaiveDate) -> Option<TimeWindow> {
    let fixed: [(&str, Reading); 9] = [
        ("昨日", |t| Some(days(t - Duration::days(1), 1))),
        ("今日", |t| Some(days(t, 1))),
        ("先週", |t| Some(week_of(t - Duration::days(7)))),
        ("今週", |t| Some(week_of(t))),
        ("先月", |t| months_back(t, 1)),
        ("今月", |t| months_back(t, 0)),
        ("去年", |t| year(t.year() - 1)),
        ("昨年", |t| year(t.year() - 1)),
        ("今年", |t| year(t.year())),
    ];
    if let Some((_, f)) = fixed.iter().find(|(k, _)| query.contains(k)) {
        return f(today);
    }
    let digits_before = |end: usize| -> Option<u32> {
        let head = &query[..end];
        let start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_digit())
            .last()
            .map(|(i, _)| i)?;
        head[start..].parse().ok()
    };
    let y = query
        .find('年')
        .and_then(digits_before)
        .and_then(|y| i32::try_from(y).ok())
        .filter(|y| (1900..=2200).contains(y));
    let m = query
        .find('月')
        .and_then(digits_before)
        .filter(|m| (1..=12).contains(m));
    match (y, m) {
        (Some(y), Some(m)) => month(y, m),
        (Some(y), None) => year(y),
        (None, Some(m)) => month(
            if m <= today.month() {
                today.year()
            } else {
                today.year() - 1
            },
            m,
        ),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        // A Wednesday.
        Utc.with_ymd_and_hms(2023, 6, 14, 15, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn window(q: &str) -> Option<(String, String)> {
        time_window(q, now()).map(|w| {
            (
                w.start.date_naive().to_string(),
                w.end.date_naive().to_string(),
            )
        })
    }

    fn span(a: &str, b: &str) -> Option<(String, String)> {
        Some((a.to_owned(), b.to_owned()))
    }

    #[test]
    fn relative_expressions_read_against_now() {
        assert_eq!(
            window("what did I eat yesterday?"),
            span("2023-06-13", "2023-06-14")
        );
        assert_eq!(window("plans for today"), span("2023-06-14", "2023-06-15"));
        assert_eq!(
            window("what happened last week"),
            span("2023-06-05", "2023-06-12")
        );
        assert_eq!(
            window("news from last month"),
            span("2023-05-01", "2023-06-01")
        );
        assert_eq!(window("trips last year"), span("2022-01-01", "2023-01-01"));
        assert_eq!(window("three days ago"), span("2023-06-11", "2023-06-12"));
        assert_eq!(window("2 months ago"), span("2023-04-01", "2023-05-01"));
        assert_eq!(
            window("what did we do last weekend"),
            span("2023-06-10", "2023-06-12")
        );
        assert_eq!(
            window("the party last Monday"),
            span("2023-06-12", "2023-06-13")
        );
        assert_eq!(
            window("o que ela fez na semana passada?"),
            span("2023-06-05", "2023-06-12")
        );
        assert_eq!(window("昨日の配信"), span("2023-06-13", "2023-06-14"));
        assert_eq!(window("先月の旅行"), span("2023-05-01", "2023-06-01"));
    }

    #[test]
    fn dates_months_and_years() {
        assert_eq!(window("hiking in March"), span("2023-03-01", "2023-04-01"));
        assert_eq!(
            window("hiking in September"),
            span("2022-09-01", "2022-10-01")
        );
        assert_eq!(
            window("what did she cook in May 2022?"),
            span("2022-05-01", "2022-06-01")
        );
        assert_eq!(window("em maio de 2022"), span("2022-05-01", "2022-06-01"));
        assert_eq!(
            window("what happened in 2021"),
            span("2021-01-01", "2022-01-01")
        );
        assert_eq!(window("on 2023-05-08"), span("2023-05-08", "2023-05-09"));
        assert_eq!(window("2022年5月の配信"), span("2022-05-01", "2022-06-01"));
        assert_eq!(window("3月に何をした"), span("2023-03-01", "2023-04-01"));
    }

    #[test]
    fn words_that_only_look_like_times_are_not() {
        assert_eq!(window("What may Tom bring?"), None);
        assert_eq!(window("What does Maya do on Saturdays?"), None);
        assert_eq!(window("Where does Ines work?"), None);
        assert_eq!(window("the march of progress"), None);
        assert_eq!(window("call 1234 now"), None);
        assert_eq!(window("she has 2000 followers"), None);
    }

    #[test]
    fn closeness_halves_per_window_length() {
        let w = TimeWindow {
            start: now(),
            end: now() + Duration::days(2),
        };
        assert!((w.closeness(now() + Duration::days(1)) - 1.0).abs() < 1e-6);
        assert!((w.closeness(now() + Duration::days(4)) - 0.5).abs() < 1e-6);
        assert!((w.closeness(now() - Duration::days(4)) - 0.25).abs() < 1e-6);
    }
}
