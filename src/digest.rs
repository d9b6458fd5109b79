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

#[cfg(test)]
mod tests {
    use super::{hex, sha256_hex};

    #[test]
    fn sha256_of_abc_is_the_fips_example() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&[0xab, 0x01], true), "AB01");
    }
}
