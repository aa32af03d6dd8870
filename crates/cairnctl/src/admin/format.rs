//! How the admin commands read and show sizes and times.

use anyhow::Context;
use bytesize::ByteSize;

/// Bytes from a size like `500GiB`, `10 GB` or `0`.
pub(crate) fn parse_size(what: &str, value: &str) -> anyhow::Result<i64> {
    let size: ByteSize = value
        .trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("{what}: `{value}` is not a size like 500GiB ({e})"))?;
    i64::try_from(size.as_u64()).with_context(|| format!("{what}: `{value}` is too large"))
}

pub(crate) fn size(bytes: i64) -> String {
    ByteSize::b(bytes.max(0) as u64).display().iec().to_string()
}

pub(crate) fn when(secs: i64) -> String {
    if secs == 0 {
        return "never".into();
    }
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| secs.to_string())
}
