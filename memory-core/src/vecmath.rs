//! Vector arithmetic for in-process scans.
//!
//! The loops use eight independent accumulators so the compiler emits SIMD
//! without `unsafe` or target-specific code.

/// Dot product of two equal-length slices.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let chunks = n / 8;
    for i in 0..chunks {
        let (x, y) = (&a[i * 8..i * 8 + 8], &b[i * 8..i * 8 + 8]);
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for i in chunks * 8..n {
        sum += a[i] * b[i];
    }
    sum
}

/// Euclidean norm.
pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// Scales to unit length; a zero vector stays zero.
pub fn normalize(a: &mut [f32]) {
    let n = norm(a);
    if n > 0.0 {
        a.iter_mut().for_each(|x| *x /= n);
    }
}

/// Cosine similarity; 0 when either vector is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let d = norm(a) * norm(b);
    if d == 0.0 { 0.0 } else { dot(a, b) / d }
}

/// Negative squared Euclidean distance (higher is closer).
pub fn neg_l2(a: &[f32], b: &[f32]) -> f32 {
    -a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_for_odd_lengths() {
        let a: Vec<f32> = (0..389).map(|i| (i as f32).sin()).collect();
        let b: Vec<f32> = (0..389).map(|i| (i as f32).cos()).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
        let mut c = a.clone();
        normalize(&mut c);
        assert!((norm(&c) - 1.0).abs() < 1e-5);
    }
}
