//! Digests and hex: how configs and plans are identified (SHA-256), and the hex forms the
//! expression language and the emulator print.

/// Hex of `bytes`, upper- or lower-case.
pub(crate) fn hex(bytes: &[u8], upper: bool) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = if upper {
                write!(out, "{b:02X}")
            } else {
                write!(out, "{b:02x}")
            };
            out
        })
}

/// The SHA-256 of `bytes` in lower-case hex (FIPS 180-4, by aws-lc-rs).
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref(),
        false,
    )
}

/// The first 12 hex digits of a digest, as messages name one (`SHA-256 3f2a9c01b7e4 then`).
pub(crate) fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// A SHA-256 computed as bytes are written to it: what a document hashes to without being held
/// as text (a plan of 100,000 creates is some 140 MB of JSON).
pub(crate) struct Sha256Writer(aws_lc_rs::digest::Context);

impl Sha256Writer {
    pub(crate) fn new() -> Sha256Writer {
        Sha256Writer(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256))
    }

    /// The digest of everything written, in lower-case hex.
    pub(crate) fn hex(self) -> String {
        hex(self.0.finish().as_ref(), false)
    }
}

impl std::io::Write for Sha256Writer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Sha256Writer, hex, sha256_hex};

    /// Written in pieces, the same digest as of the whole.
    #[test]
    fn a_written_digest_is_the_digest_of_the_whole() {
        use std::io::Write as _;
        let mut writer = Sha256Writer::new();
        writer.write_all(b"a").unwrap();
        writer.write_all(b"bc").unwrap();
        assert_eq!(writer.hex(), sha256_hex(b"abc"));
    }

    #[test]
    fn sha256_of_abc_is_the_fips_example() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&[0xab, 0x01], true), "AB01");
    }
}
