//! Reading a cache file back a top-level field at a time, so its entries
//! are never all in memory.

use std::fs;
use std::path::Path;

use anyhow::Context;
use prost::Message;

use cairn_core::ChunkId;

use super::format::Entry;

/// Most bytes one record of the cache file may claim; more means damage.
const MAX_RECORD: u64 = 64 * 1024 * 1024;

/// One top-level field of a cache file.
pub(super) enum Record {
    Version(u64),
    Company(String),
    Entry(Entry),
    /// An entry passed over without decoding it (first pass).
    Unread,
    /// A field this version does not know.
    Skipped,
    Tree(ChunkId),
}

/// Reads a cache file a field at a time: the protobuf encoding of a
/// `CacheFile`, whose repeated fields may come in any order.
pub(super) struct Records {
    file: std::io::BufReader<fs::File>,
    record: Vec<u8>,
}

impl Records {
    pub(super) fn open(path: &Path) -> std::io::Result<Records> {
        Ok(Records {
            file: std::io::BufReader::with_capacity(64 * 1024, fs::File::open(path)?),
            record: Vec::new(),
        })
    }

    pub(super) fn rewind(&mut self) -> std::io::Result<()> {
        use std::io::Seek;
        self.file.rewind()
    }

    /// The next field, or None at the end. Entries are decoded only if
    /// `entries`; otherwise their bytes are skipped.
    pub(super) fn next(&mut self, entries: bool) -> anyhow::Result<Option<Record>> {
        use prost::encoding::WireType;
        let Some(key) = self.varint()? else {
            return Ok(None);
        };
        let wire = WireType::try_from(key & 7)?;
        let tag = key >> 3;
        if wire == WireType::Varint {
            let value = self.varint()?.context("the cache ends inside a field")?;
            return Ok(Some(if tag == 1 {
                Record::Version(value)
            } else {
                Record::Skipped
            }));
        }
        if wire != WireType::LengthDelimited {
            anyhow::bail!("unexpected field type in the cache");
        }
        let len = self.varint()?.context("the cache ends inside a field")?;
        if len > MAX_RECORD {
            anyhow::bail!("a cache record claims {len} bytes");
        }
        if tag == 3 && !entries {
            self.file.seek_relative(len as i64)?;
            return Ok(Some(Record::Unread));
        }
        self.record.resize(len as usize, 0);
        std::io::Read::read_exact(&mut self.file, &mut self.record)?;
        Ok(Some(match tag {
            2 => Record::Company(String::from_utf8(std::mem::take(&mut self.record))?),
            3 => Record::Entry(Entry::decode(self.record.as_slice())?),
            4 => Record::Tree(ChunkId(
                <[u8; 32]>::try_from(self.record.as_slice())
                    .map_err(|_| anyhow::anyhow!("a tree id of {len} bytes in the cache"))?,
            )),
            _ => Record::Skipped,
        }))
    }

    /// A base-128 varint, or None at the very end of the file.
    fn varint(&mut self) -> anyhow::Result<Option<u64>> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let mut byte = [0u8];
            if std::io::Read::read(&mut self.file, &mut byte)? == 0 {
                if shift == 0 {
                    return Ok(None);
                }
                anyhow::bail!("the cache ends inside a number");
            }
            value |= u64::from(byte[0] & 0x7f) << shift;
            if byte[0] & 0x80 == 0 {
                return Ok(Some(value));
            }
        }
        anyhow::bail!("a number in the cache is too long")
    }
}
