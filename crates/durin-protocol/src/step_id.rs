//! Step ids on the wire are the lowercase hex SHA-1 of the user's step id; the n-th repeat of an id within
//! one execution is hashed as `id:n` (the first has no suffix).

use sha1::{Digest, Sha1};

/// The hashed id of the `index`-th occurrence (0-based) of `user_id` in one execution.
pub fn hashed_step_id(user_id: &str, index: usize) -> String {
    let mut hasher = Sha1::new();
    hasher.update(user_id.as_bytes());
    if index > 0 {
        hasher.update(format!(":{index}").as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_sdk_captures() {
        assert_eq!(
            hashed_step_id("first", 0),
            "e0996a37c13d44c3b06074939d43fa3759bd32c1"
        );
        assert_eq!(
            hashed_step_id("second", 0),
            "352f7829a2384b001cc12b0c2613c756454a1f6a"
        );
        assert_eq!(
            hashed_step_id("same", 1),
            "c1023fa587daa4753ff5868c7e4bdbd03defda7d"
        );
        assert_eq!(
            hashed_step_id("complete", 0),
            "0737c22d3bfae812339732d14d8c7dbd6dc4e09c"
        );
    }
}
