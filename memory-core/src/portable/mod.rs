//! Moving a whole store: `export` to JSON lines, `import` of those lines
//! (restored exactly) or of plain memories and messages, and `migrate`
//! between stores, resumably and verified. The CLI is a thin shell around
//! these [`crate::Memory`] methods, so library users can call them too.

mod conversations;
mod export;
mod foreign;
mod foreign_map;
mod import;
mod migrate;
mod restore;

pub use conversations::{ConversationCounts, ConversationItem};
pub use export::ExportReport;
pub use foreign::{ForeignReport, survey_foreign};
pub use foreign_map::{ForeignMapping, Skip, Target};
pub use import::{ImportReport, Importer};
pub use migrate::{MigrateOptions, MigrateReport};
pub use restore::fingerprint;
