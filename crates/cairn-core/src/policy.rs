//! A group's backup policy: which paths and files, when, how long kept, how
//! fast uploaded. Validated here so the server refuses a bad policy and the
//! agent applies exactly what was validated.

use std::fmt;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use cairn_proto::orgs::v1 as pb;

use crate::Error;

const MAX_ENTRIES: usize = 100;
const MAX_PATH: usize = 4096;
const MAX_PATTERN: usize = 500;

/// When an agent backs up on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Only when someone runs a backup.
    Manual,
    /// Every so many seconds after the last completed backup.
    Every { secs: u64 },
    /// Once a day at this local time.
    Daily { hour: u32, minute: u32 },
}

impl Schedule {
    pub fn parse(field: &str, value: &str) -> Result<Schedule, Error> {
        let bad = || {
            Error::invalid(
                field,
                format!(
                    "`{value}` is not a schedule: use `manual`, `every <N>m` (N at least 5), \
                     `every <N>h` or `daily HH:MM`"
                ),
            )
        };
        let value = value.trim();
        if value == "manual" {
            return Ok(Schedule::Manual);
        }
        if let Some(every) = value.strip_prefix("every ") {
            let every = every.trim();
            // The unit is the last character, whatever its width.
            let unit_at = every.char_indices().next_back().map_or(0, |(at, _)| at);
            let (number, unit) = every.split_at(unit_at);
            let n: u64 = number.trim().parse().map_err(|_| bad())?;
            let secs = match unit {
                "m" if (5..=10_080).contains(&n) => n * 60,
                "h" if (1..=168).contains(&n) => n * 3600,
                _ => return Err(bad()),
            };
            return Ok(Schedule::Every { secs });
        }
        if let Some(at) = value.strip_prefix("daily ") {
            let (h, m) = at.trim().split_once(':').ok_or_else(bad)?;
            let (hour, minute): (u32, u32) =
                (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if hour > 23 || minute > 59 || m.len() != 2 {
                return Err(bad());
            }
            return Ok(Schedule::Daily { hour, minute });
        }
        Err(bad())
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Schedule::Manual => f.write_str("manual"),
            Schedule::Every { secs } if secs % 3600 == 0 => write!(f, "every {}h", secs / 3600),
            Schedule::Every { secs } => write!(f, "every {}m", secs / 60),
            Schedule::Daily { hour, minute } => write!(f, "daily {hour:02}:{minute:02}"),
        }
    }
}

/// A validated backup policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub include_paths: Vec<String>,
    pub include_patterns: Vec<String>,
    pub exclude_patterns: Vec<String>,
    pub schedule: Schedule,
    pub keep_last: i32,
    pub keep_within_days: i32,
    pub bandwidth_kbps: i64,
}

impl Default for Policy {
    /// The home directory every four hours, without caches and temporary
    /// files; 30 snapshots and 30 days kept; no upload limit.
    fn default() -> Self {
        Policy {
            include_paths: vec!["~".into()],
            include_patterns: vec![],
            exclude_patterns: vec![
                "**/.cache".into(),
                "**/.Trash".into(),
                "*.tmp".into(),
                "~$*".into(),
            ],
            schedule: Schedule::Every { secs: 4 * 3600 },
            keep_last: 30,
            keep_within_days: 30,
            bandwidth_kbps: 0,
        }
    }
}

fn list(field: &str, values: &[String], max_len: usize) -> Result<Vec<String>, Error> {
    if values.len() > MAX_ENTRIES {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_ENTRIES} entries, got {}", values.len()),
        ));
    }
    values
        .iter()
        .map(|v| {
            let v = v.trim();
            if v.is_empty() || v.len() > max_len || v.chars().any(char::is_control) {
                Err(Error::invalid(
                    field,
                    format!("entries must be 1 to {max_len} printable characters"),
                ))
            } else {
                Ok(v.to_owned())
            }
        })
        .collect()
}

impl Policy {
    /// Validates a policy from a request; `field` prefixes the field names.
    pub fn from_proto(field: &str, p: &pb::Policy) -> Result<Policy, Error> {
        let include_paths = list(
            &format!("{field}.include_paths"),
            &p.include_paths,
            MAX_PATH,
        )?;
        if include_paths.is_empty() {
            return Err(Error::invalid(
                format!("{field}.include_paths"),
                "name at least one path to back up",
            ));
        }
        for path in &include_paths {
            if !(path == "~" || path.starts_with("~/") || path.starts_with('/')) {
                return Err(Error::invalid(
                    format!("{field}.include_paths"),
                    format!("`{path}` must be absolute or start with `~/`"),
                ));
            }
        }
        let include_patterns = list(
            &format!("{field}.include_patterns"),
            &p.include_patterns,
            MAX_PATTERN,
        )?;
        let exclude_patterns = list(
            &format!("{field}.exclude_patterns"),
            &p.exclude_patterns,
            MAX_PATTERN,
        )?;
        globs(&format!("{field}.include_patterns"), &include_patterns)?;
        globs(&format!("{field}.exclude_patterns"), &exclude_patterns)?;
        let schedule = Schedule::parse(&format!("{field}.schedule"), &p.schedule)?;
        if !(1..=10_000).contains(&p.keep_last) {
            return Err(Error::invalid(
                format!("{field}.keep_last"),
                format!("must be 1 to 10000, got {}", p.keep_last),
            ));
        }
        if !(0..=3650).contains(&p.keep_within_days) {
            return Err(Error::invalid(
                format!("{field}.keep_within_days"),
                format!("must be 0 to 3650, got {}", p.keep_within_days),
            ));
        }
        if !(0..=10_000_000).contains(&p.bandwidth_kbps) {
            return Err(Error::invalid(
                format!("{field}.bandwidth_kbps"),
                format!(
                    "must be 0 (unlimited) to 10000000, got {}",
                    p.bandwidth_kbps
                ),
            ));
        }
        Ok(Policy {
            include_paths,
            include_patterns,
            exclude_patterns,
            schedule,
            keep_last: p.keep_last,
            keep_within_days: p.keep_within_days,
            bandwidth_kbps: p.bandwidth_kbps,
        })
    }

    pub fn to_proto(&self) -> pb::Policy {
        pb::Policy {
            include_paths: self.include_paths.clone(),
            include_patterns: self.include_patterns.clone(),
            exclude_patterns: self.exclude_patterns.clone(),
            schedule: self.schedule.to_string(),
            keep_last: self.keep_last,
            keep_within_days: self.keep_within_days,
            bandwidth_kbps: self.bandwidth_kbps,
        }
    }

    /// The filter an agent applies while walking.
    pub fn filter(&self) -> Result<PathFilter, Error> {
        Ok(PathFilter {
            include: globs("policy.include_patterns", &self.include_patterns)?,
            exclude: globs("policy.exclude_patterns", &self.exclude_patterns)?,
        })
    }
}

/// Which files and directories a policy keeps. A pattern without `/` matches
/// the entry's name (`*.mp3`); one with `/` matches the whole path
/// (`**/node_modules`). Matching ignores case.
#[derive(Clone, Debug)]
pub struct PathFilter {
    include: Option<Globs>,
    exclude: Option<Globs>,
}

#[derive(Clone, Debug)]
struct Globs {
    names: GlobSet,
    paths: GlobSet,
}

impl Globs {
    fn matches(&self, path: &Path) -> bool {
        let name_hit = path
            .file_name()
            .is_some_and(|name| self.names.is_match(Path::new(name)));
        name_hit || self.paths.is_match(path)
    }
}

fn globs(field: &str, patterns: &[String]) -> Result<Option<Globs>, Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut names = GlobSetBuilder::new();
    let mut paths = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = GlobBuilder::new(pattern)
            .case_insensitive(true)
            .literal_separator(true)
            .build()
            .map_err(|e| Error::invalid(field, format!("`{pattern}`: {}", e.kind())))?;
        if pattern.contains('/') {
            paths.add(glob);
        } else {
            names.add(glob);
        }
    }
    let build = |b: GlobSetBuilder| {
        b.build()
            .map_err(|e| Error::invalid(field, format!("patterns do not compile: {e}")))
    };
    Ok(Some(Globs {
        names: build(names)?,
        paths: build(paths)?,
    }))
}

impl PathFilter {
    /// Keeps everything.
    pub fn all() -> PathFilter {
        PathFilter {
            include: None,
            exclude: None,
        }
    }

    /// Whether a directory is walked.
    pub fn keeps_dir(&self, path: &Path) -> bool {
        !self.exclude.as_ref().is_some_and(|g| g.matches(path))
    }

    /// Whether a file (or link) is backed up.
    pub fn keeps_file(&self, path: &Path) -> bool {
        if self.exclude.as_ref().is_some_and(|g| g.matches(path)) {
            return false;
        }
        self.include.as_ref().is_none_or(|g| g.matches(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(exclude: &[&str], include: &[&str]) -> pb::Policy {
        let mut p = Policy::default().to_proto();
        p.exclude_patterns = exclude.iter().map(|s| s.to_string()).collect();
        p.include_patterns = include.iter().map(|s| s.to_string()).collect();
        p
    }

    #[test]
    fn schedules_round_trip_and_bad_ones_are_named() {
        for s in ["manual", "every 5m", "every 90m", "every 4h", "daily 02:30"] {
            let parsed = Schedule::parse("schedule", s).unwrap();
            assert_eq!(parsed.to_string(), s);
        }
        for s in [
            "",
            "every 1m",
            "every 0h",
            "daily 24:00",
            "daily 2:3",
            "hourly",
            "every 5x",
            "every \u{1d7}",
            "every 5\u{1d7}",
        ] {
            let err = Schedule::parse("policy.schedule", s)
                .unwrap_err()
                .to_string();
            assert!(err.contains("policy.schedule"), "{s}: {err}");
        }
    }

    #[test]
    fn exclusions_match_names_and_paths_ignoring_case() {
        let p = Policy::from_proto("policy", &policy(&["*.mp3", "**/node_modules"], &[])).unwrap();
        let f = p.filter().unwrap();
        assert!(!f.keeps_file(Path::new("/home/a/Music/song.mp3")));
        assert!(!f.keeps_file(Path::new("/home/a/Music/SONG.MP3")));
        assert!(f.keeps_file(Path::new("/home/a/Music/song.mp3.txt")));
        assert!(!f.keeps_dir(Path::new("/home/a/src/node_modules")));
        assert!(f.keeps_dir(Path::new("/home/a/src")));
    }

    #[test]
    fn include_patterns_keep_only_matching_files() {
        let p = Policy::from_proto("policy", &policy(&[], &["*.docx"])).unwrap();
        let f = p.filter().unwrap();
        assert!(f.keeps_file(Path::new("/d/report.docx")));
        assert!(!f.keeps_file(Path::new("/d/report.pdf")));
        assert!(f.keeps_dir(Path::new("/d/sub")));
    }

    #[test]
    fn bad_policies_name_the_field() {
        let mut p = policy(&["a[b"], &[]);
        let err = Policy::from_proto("policy", &p).unwrap_err().to_string();
        assert!(err.contains("policy.exclude_patterns"), "{err}");
        p = policy(&[], &[]);
        p.include_paths = vec!["relative/path".into()];
        let err = Policy::from_proto("policy", &p).unwrap_err().to_string();
        assert!(err.contains("policy.include_paths"), "{err}");
        p = policy(&[], &[]);
        p.keep_last = 0;
        let err = Policy::from_proto("policy", &p).unwrap_err().to_string();
        assert!(err.contains("policy.keep_last"), "{err}");
        p = policy(&[], &[]);
        p.bandwidth_kbps = -1;
        let err = Policy::from_proto("policy", &p).unwrap_err().to_string();
        assert!(err.contains("policy.bandwidth_kbps"), "{err}");
    }
}
