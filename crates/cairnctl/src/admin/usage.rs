//! `cairnctl usage`: the company's seats and storage day by day.

use std::io::Write;
use std::path::Path;

use cairn_proto::orgs::v1::GetUsageRequest;

use crate::session::{authed, load_session};
use crate::status;

use super::format::size;
use super::orgs;

/// `cairnctl usage`: a table, or CSV with exact byte counts.
pub(crate) async fn run_usage(
    session_path: &Path,
    from: String,
    to: String,
    csv: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let session = load_session(session_path).await?;
    let days = orgs(&session)
        .await?
        .get_usage(authed(&session, GetUsageRequest { from, to })?)
        .await
        .map_err(status("cannot read usage"))?
        .into_inner()
        .days;
    if csv {
        writeln!(out, "day,seats_used,logical_bytes,stored_bytes")?;
        for d in &days {
            writeln!(
                out,
                "{},{},{},{}",
                d.day, d.seats_used, d.logical_bytes, d.stored_bytes
            )?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<10}  {:>5}  {:>12}  {:>12}",
        "day", "seats", "protected", "stored"
    )?;
    for d in &days {
        writeln!(
            out,
            "{:<10}  {:>5}  {:>12}  {:>12}",
            d.day,
            d.seats_used,
            size(d.logical_bytes),
            size(d.stored_bytes)
        )?;
    }
    Ok(())
}
