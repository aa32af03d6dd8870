use cairn_core::Error;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Reading the data to chunk failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Sealing or opening a blob failed: wrong key, wrong id or corrupted data.
    #[error(transparent)]
    Crypto(#[from] cairn_crypto::CryptoError),
    #[error("cannot decompress a chunk: {0}")]
    Decompress(String),
    /// An opened blob starts with a format byte this version does not know.
    #[error("unknown blob format {0}")]
    Format(u8),
    /// An opened blob has no format byte at all.
    #[error("stored chunk is empty: no format byte")]
    EmptyBlob,
    /// A chunk's plaintext exceeds the limit, in bytes.
    #[error("chunk is larger than {0} bytes")]
    TooLarge(usize),
    #[error("chunk {id} does not match its id: corrupted data")]
    IdMismatch { id: String },
    #[error("snapshot tree cannot be decoded: {0}")]
    BadTree(String),
    /// A snapshot tree goes past one of its limits: more than `limit` of
    /// `what`.
    #[error("snapshot tree holds more than {limit} {what}")]
    TreeLimit { what: &'static str, limit: usize },
    /// A pack record (by its index in the header) is malformed.
    #[error("pack record {index}: {reason}")]
    BadPack { index: usize, reason: String },
}

impl From<EngineError> for Error {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::BadPack { .. } => Error::invalid("header.chunks", err.to_string()),
            EngineError::Io(_)
            | EngineError::Crypto(_)
            | EngineError::Decompress(_)
            | EngineError::Format(_)
            | EngineError::EmptyBlob
            | EngineError::TooLarge(_)
            | EngineError::IdMismatch { .. }
            | EngineError::BadTree(_)
            | EngineError::TreeLimit { .. } => Error::internal(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_pack_is_an_invalid_argument_naming_the_field() {
        let err = Error::from(EngineError::BadPack {
            index: 3,
            reason: "id must be 32 bytes".into(),
        });
        assert!(matches!(&err, Error::InvalidArgument { field, .. } if field == "header.chunks"));
        assert!(err.to_string().contains("pack record 3"), "{err}");
        assert!(matches!(
            Error::from(EngineError::EmptyBlob),
            Error::Internal(_)
        ));
    }
}
