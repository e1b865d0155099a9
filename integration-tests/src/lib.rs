//! Harness for tests that run weft's real binaries as processes on loopback.
