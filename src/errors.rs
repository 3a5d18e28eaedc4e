//! One way to write an error down: the error and every cause under it, on
//! one line (STYLE habit 4). Logs, the command line and `doorstep doctor`
//! all use it, so a failure reads the same wherever it is reported.

use std::error::Error;

/// `outer: cause: root cause`, following `source()` to the end.
pub fn error_chain(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("could not save")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("database error")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn every_cause_is_written_in_order() {
        let e = Outer(Middle(std::io::Error::other("disk full")));
        assert_eq!(error_chain(&e), "could not save: database error: disk full");
        assert_eq!(error_chain(&std::io::Error::other("alone")), "alone");
    }
}
