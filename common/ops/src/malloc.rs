//! How the C allocator keeps freed memory: set once, first thing in each node's `main`.
//!
//! A node handles blocks of hundreds of KB: decoded, verified, encoded and written, then freed, several
//! times per block. glibc's defaults hand such buffers back to the kernel when freed (above its mmap
//! threshold, or at the top of a thread's arena above its trim threshold), so the next one page-faults
//! on every 4 KB page it touches and the kernel zeroes each page again. Measured on the four-peer loopback
//! network (`dissemination_bench`, 500 blocks of 300 KB), that churn was about 7% of all CPU, on the
//! path of every block; keeping freed memory for reuse cut the network's page faults fivefold (from about
//! 370 to 70 per block). The heap a node holds stays about its peak use, and buffers larger than
//! [`MMAP_THRESHOLD`] (beyond any block Fabric's `AbsoluteMaxBytes` default allows) still come from and
//! return to the kernel.

/// Allocations at least this large are mapped and unmapped on their own.
pub const MMAP_THRESHOLD: usize = 32 << 20;
/// Free memory at the top of a heap beyond this is returned to the kernel.
pub const TRIM_THRESHOLD: usize = 64 << 20;

/// Sets [`MMAP_THRESHOLD`] and [`TRIM_THRESHOLD`]; true when the allocator took both (glibc on Linux; on
/// other C libraries this does nothing and returns false).
pub fn keep_freed_memory() -> bool {
    imp::keep_freed_memory()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod imp {
    pub fn keep_freed_memory() -> bool {
        let set = |param, value: usize| {
            let value = libc::c_int::try_from(value).expect("thresholds fit a C int");
            // SAFETY: mallopt only changes glibc's allocator settings; it takes plain integers and touches no
            // memory of ours.
            unsafe { libc::mallopt(param, value) == 1 }
        };
        set(libc::M_MMAP_THRESHOLD, super::MMAP_THRESHOLD)
            & set(libc::M_TRIM_THRESHOLD, super::TRIM_THRESHOLD)
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn keep_freed_memory() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_both_thresholds() {
        assert!(super::keep_freed_memory());
        // Setting them again is harmless.
        assert!(super::keep_freed_memory());
    }
}
