//! One error type for the library. Problems in model and scenario files are *located*: they name
//! the file, the line and column, what was expected and, where a name is close to a known one,
//! a "did you mean".

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// What went wrong in a model or scenario file. Tests match on this, never on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not valid TOML.
    Syntax,
    /// `schema` is missing or names a version this build does not read.
    UnsupportedSchema,
    /// A key that the format does not define (files are read with unknown keys rejected).
    UnknownField,
    /// A required key is missing.
    MissingField,
    /// A value of the wrong type or outside its range.
    InvalidValue,
    /// `kind = "…"` names no registered region kind.
    UnknownRegionKind,
    /// A name that should refer to a region of the model refers to none.
    UnknownRegion,
    /// `region.port` names a port the region does not have.
    UnknownPort,
    /// An edge joins ports that carry different signal kinds.
    PortTypeMismatch,
    /// An edge joins ports of different widths.
    PortSizeMismatch,
    /// The edges without `delay = 1` form a cycle, so no tick order exists.
    CycleWithoutDelay,
    /// A required input port has no edge into it.
    UnconnectedInput,
    /// `kind = "…"` names no world.
    UnknownWorldKind,
    /// `kind = "…"` names no probe.
    UnknownProbeKind,
    /// A concept (token) that the world's vocabulary does not contain.
    UnknownConcept,
    /// A file that a scenario refers to cannot be read.
    MissingFile,
    /// `from -> to` names no edge of the model.
    UnknownEdge,
    /// A name (a phase's, a probe's) or an edge given twice.
    Duplicate,
}

impl ErrorKind {
    /// A short, stable, kebab-case name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax",
            ErrorKind::UnsupportedSchema => "unsupported-schema",
            ErrorKind::UnknownField => "unknown-field",
            ErrorKind::MissingField => "missing-field",
            ErrorKind::InvalidValue => "invalid-value",
            ErrorKind::UnknownRegionKind => "unknown-region-kind",
            ErrorKind::UnknownRegion => "unknown-region",
            ErrorKind::UnknownPort => "unknown-port",
            ErrorKind::PortTypeMismatch => "port-type-mismatch",
            ErrorKind::PortSizeMismatch => "port-size-mismatch",
            ErrorKind::CycleWithoutDelay => "cycle-without-delay",
            ErrorKind::UnconnectedInput => "unconnected-input",
            ErrorKind::UnknownWorldKind => "unknown-world-kind",
            ErrorKind::UnknownProbeKind => "unknown-probe-kind",
            ErrorKind::UnknownConcept => "unknown-concept",
            ErrorKind::UnknownEdge => "unknown-edge",
            ErrorKind::MissingFile => "missing-file",
            ErrorKind::Duplicate => "duplicate",
        }
    }
}

/// A position in a file: 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as the user named it.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// An error at a place in a model or scenario file.
#[derive(Debug, Clone)]
pub struct LocatedError {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// Where.
    pub location: Location,
    /// What was found and what was expected.
    pub message: String,
    /// A suggestion, e.g. "did you mean `sensory_cortex`?".
    pub help: Option<String>,
}

impl fmt::Display for LocatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: error[{}]: {}",
            self.location,
            self.kind.name(),
            self.message
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The library's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem at a place in a model or scenario file.
    #[error("{0}")]
    Located(Box<LocatedError>),
    /// A file could not be read or written. (The cause is in the message, not a separate
    /// `source`, so a printed chain does not say it twice.)
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// The requested compute device is not available in this build or on this machine.
    #[error("device: {0}")]
    Device(String),
    /// Something failed at a step of a phase (the error beneath says what).
    #[error("phase `{phase}`, step {step}: {error}")]
    AtStep {
        /// The phase's name.
        phase: String,
        /// Ticks since the run began.
        step: u64,
        /// What failed.
        error: Box<Error>,
    },
    /// A region failed: stepping, changing parameters between phases, saving or restoring.
    #[error("region `{region}`: {error}")]
    Region {
        /// The region's name in the model.
        region: String,
        /// What failed.
        error: Box<Error>,
    },
    /// The world failed: stepping, taking the brain's reply, saving or restoring.
    #[error("world `{kind}`: {error}")]
    World {
        /// The world's kind.
        kind: String,
        /// What failed.
        error: Box<Error>,
    },
    /// A probe could not take its reading.
    #[error("probe `{probe}`: {message}")]
    Probe {
        /// The probe's name.
        probe: String,
        /// What is wrong.
        message: String,
    },
    /// A region's learnable state stopped being finite; the readings so far are saved.
    #[error(
        "phase `{phase}`, step {step}: region `{region}`, agent {agent} diverged (non-finite \
         weights); metrics so far are in {}",
        dir.display()
    )]
    Diverged {
        /// The phase's name.
        phase: String,
        /// Ticks since the run began.
        step: u64,
        /// The first region (in tick order) that diverged.
        region: String,
        /// Its first agent that diverged.
        agent: usize,
        /// The run directory.
        dir: PathBuf,
    },
    /// The run was stopped from outside (its observer, `RunOptions::observer`, said so: Ctrl-C in
    /// Python); what it had read is in the run directory, and with a checkpoint it resumes.
    #[error(
        "phase `{phase}`, step {step}: interrupted; metrics so far are in {}{}",
        dir.display(),
        if *checkpoint { " (checkpointed at this step: resume continues from it)" } else { " (no `checkpoint_every`: not resumable)" }
    )]
    Interrupted {
        /// The phase's name.
        phase: String,
        /// Ticks since the run began.
        step: u64,
        /// The run directory.
        dir: PathBuf,
        /// Whether a checkpoint was written at `step`.
        checkpoint: bool,
    },
    /// A checkpoint lacks a key, or a key does not read back as the running model expects.
    #[error("checkpoint: {message}")]
    Checkpoint {
        /// The key, as the component that read it names it (a region's `weights`; the
        /// region is named by the [`Error::Region`] around it).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A run directory cannot be resumed: no checkpoint, or the scenario changed.
    #[error("{}: {reason}", path.display())]
    Resume {
        /// The checkpoint or scenario file concerned.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// A figure whose data has nothing to draw (every reading NaN, no points): a run warns and
    /// goes on without it.
    #[error("{0}")]
    NothingToDraw(String),
    /// Any other run-time failure, its context in the message.
    #[error("{0}")]
    Run(String),
}

impl Error {
    /// The kind of a located error, `None` for other errors.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Located(e) => Some(e.kind),
            _ => None,
        }
    }

    /// The location of a located error.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Located(e) => Some(&e.location),
            _ => None,
        }
    }

    /// The help line of a located error.
    pub fn help(&self) -> Option<&str> {
        match self {
            Error::Located(e) => e.help.as_deref(),
            _ => None,
        }
    }

    /// The error beneath its context (phase and step, region, world): what actually failed.
    pub fn root(&self) -> &Error {
        match self {
            Error::AtStep { error, .. } | Error::Region { error, .. } | Error::World { error, .. } => {
                error.root()
            }
            other => other,
        }
    }

    /// The region an error arose in, if it arose in one.
    pub fn region(&self) -> Option<&str> {
        match self {
            Error::Region { region, .. } | Error::Diverged { region, .. } => Some(region),
            Error::AtStep { error, .. } | Error::World { error, .. } => error.region(),
            _ => None,
        }
    }

    /// The phase and step an error arose at, if it arose during a run.
    pub fn at_step(&self) -> Option<(&str, u64)> {
        match self {
            Error::AtStep { phase, step, .. } | Error::Diverged { phase, step, .. } => Some((phase, *step)),
            Error::Region { error, .. } | Error::World { error, .. } => error.at_step(),
            _ => None,
        }
    }

    /// Wraps an error as a region's.
    pub fn in_region(self, region: &str) -> Self {
        Error::Region {
            region: region.to_string(),
            error: Box::new(self),
        }
    }

    /// Wraps an error as a world's.
    pub fn in_world(self, kind: &str) -> Self {
        Error::World {
            kind: kind.to_string(),
            error: Box::new(self),
        }
    }

    /// Wraps an error with the phase and step it arose at.
    pub fn at(self, phase: &str, step: u64) -> Self {
        Error::AtStep {
            phase: phase.to_string(),
            step,
            error: Box::new(self),
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            cause: source,
        }
    }
}

/// The library's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The largest model, scenario or sweep file read (they are a few kB).
pub const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// The bytes of a regular file of at most `max` bytes. A directory, a pipe, a socket or a
/// device (`/dev/zero`, a FIFO that would block) is refused without reading, as is a larger
/// file: errors name the path and say what it is.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>> {
    let refuse = |what: String| Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidInput, what));
    let meta = regular_file(path)?;
    if meta.len() > max {
        return Err(refuse(format!(
            "{} bytes, more than the {max} such a file may have",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    use std::io::Read as _;
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(refuse(format!("more than the {max} bytes such a file may have")));
    }
    Ok(bytes)
}

/// Checks that `path` is a regular file (following links) and returns its metadata: a missing
/// path is "not found", a directory or a special file (pipe, socket, device) says what it is
/// instead.
pub fn regular_file(path: &Path) -> Result<std::fs::Metadata> {
    let refuse = |what: &str| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_string()),
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(refuse("is a directory, not a file"));
    }
    if !meta.is_file() {
        return Err(refuse(
            "is not a regular file (a pipe, a socket or a device); give a file",
        ));
    }
    Ok(meta)
}

/// The text of a file with the name the user gave it, so that byte spans become `file:line:col`.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as given.
    pub path: PathBuf,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// Reads a model, scenario or sweep file: a regular file of at most [`MAX_SOURCE_BYTES`]
    /// (a directory, a pipe or a device such as `/dev/zero` is refused before reading), in
    /// UTF-8 (an invalid byte is a located error); a missing file is an I/O error naming it.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        SourceFile::read_at_most(path.as_ref(), MAX_SOURCE_BYTES)
    }

    /// Reads a text file as [`SourceFile::read`] does, of at most `max` bytes (a data file:
    /// a lexicon).
    pub fn read_at_most(path: &Path, max: u64) -> Result<Self> {
        let bytes = read_regular(path, max)?;
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let good = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                let source = SourceFile {
                    path: path.to_path_buf(),
                    text: String::from_utf8_lossy(&bytes[..good]).into_owned(),
                };
                return Err(source.error(
                    ErrorKind::Syntax,
                    good..good,
                    format!("not UTF-8 text: byte 0x{:02x} is not valid here", bytes[good]),
                ));
            }
        };
        Ok(SourceFile {
            path: path.to_path_buf(),
            text,
        })
    }

    /// A source held in memory (tests, generated files).
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    /// The location of a byte offset.
    pub fn locate(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = self.text[line_start..offset].chars().count() + 1;
        Location {
            file: self.path.clone(),
            line,
            column,
        }
    }

    /// A located error at the start of `span`.
    pub fn error(&self, kind: ErrorKind, span: Range<usize>, message: impl Into<String>) -> Error {
        self.error_with_help(kind, span, message, None)
    }

    /// A located error with a help line.
    pub fn error_with_help(
        &self,
        kind: ErrorKind,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Error {
        Error::Located(Box::new(LocatedError {
            kind,
            location: self.locate(span.start),
            message: message.into(),
            help,
        }))
    }

    /// A TOML syntax error, located.
    pub fn syntax_error(&self, err: &toml::de::Error) -> Error {
        let span = err.span().unwrap_or(0..0);
        self.error(ErrorKind::Syntax, span, err.message().trim().to_string())
    }

    /// Turns a TOML deserialisation error into a located error, classifying it.
    pub fn toml_error(&self, err: &toml::de::Error) -> Error {
        let message = err.message().trim().to_string();
        let kind = if message.starts_with("unknown field") {
            ErrorKind::UnknownField
        } else if message.starts_with("missing field") {
            ErrorKind::MissingField
        } else if message.starts_with("invalid")
            || message.contains("expected")
            || message.starts_with("unknown variant")
        {
            ErrorKind::InvalidValue
        } else {
            ErrorKind::Syntax
        };
        let help = match kind {
            ErrorKind::UnknownField => unknown_field_help(&message),
            _ => None,
        };
        let span = err.span().unwrap_or(0..0);
        self.error_with_help(kind, span, message, help)
    }
}

/// serde writes "unknown field `lrr`, expected one of `lr`, `dim`"; suggest the nearest.
fn unknown_field_help(message: &str) -> Option<String> {
    let mut parts = message.split('`');
    let _ = parts.next();
    let name = parts.next()?;
    let candidates: Vec<&str> = parts.skip(1).step_by(2).collect();
    did_you_mean(name, candidates.iter().copied())
}

/// "did you mean `x`?" for the candidate nearest to `name`, when it is near enough to be a typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    nearest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The candidate within edit distance max(1, len/3) of `name`, nearest first.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (levenshtein(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// Edit distance between two strings, by characters: insertions, deletions, substitutions and
/// transpositions of adjacent characters (optimal string alignment), since "vat" for "vta" is
/// one slip of the fingers, not two.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_counts_lines_and_characters() {
        let src = SourceFile::new("m.toml", "a = 1\nbé = 2\n");
        let loc = src.locate(src.text.find('=').unwrap());
        assert_eq!((loc.line, loc.column), (1, 3));
        let loc = src.locate(src.text.rfind('=').unwrap());
        assert_eq!((loc.line, loc.column), (2, 4));
    }

    #[test]
    fn levenshtein_matches_hand_counts() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
        assert_eq!(levenshtein("vat", "vta"), 1);
    }

    #[test]
    fn did_you_mean_picks_near_names_only() {
        let kinds = ["sensory_cortex", "reward_model"];
        assert_eq!(nearest("sensory_cortx", kinds), Some("sensory_cortex"));
        assert_eq!(nearest("amygdala", kinds), None);
    }
}
