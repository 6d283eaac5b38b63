//! `ctx.fn_id` must look like a UUID to some SDKs (the Go SDK refuses anything else), while Durin names
//! functions by their composite id. A name-based UUID (version 5 layout over SHA-1) bridges the two: stable
//! for a function id, distinct between ids.

use sha1::{Digest, Sha1};

/// The UUID Durin sends as `ctx.fn_id` for the function `function_id`.
pub fn function_uuid(function_id: &str) -> String {
    let digest = Sha1::digest(function_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_stable_version_5_uuid_per_function() {
        let id = function_uuid("app-fn");
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'5');
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(id, function_uuid("app-fn"));
        assert_ne!(id, function_uuid("app-other"));
    }
}
