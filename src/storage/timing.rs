//! `Server-Timing` for git and ZIP responses: how many round trips went to
//! D1 and R2 and how long they took, which cache layer answered, and how
//! long building took, so an operator (and the tests) can see where a
//! request spent its time.
//!
//! Format (RFC-style metrics, one per kind): `d1;count=1;dur=3.2,
//! r2;count=1;dur=8.0, cache;desc=r2, build;dur=1.5`, and on a miss from
//! segments `segments;count=7` (the plugins piped from their segments)
//! and `copy;count=0` or `1` (whether the pack is cached after: a view's
//! first miss from segments is not, its second is).
//! `count` is an extension parameter; browsers ignore it and show `dur`.

/// Round trips of one kind: how many and their total duration.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Trips {
    pub count: u32,
    pub ms: f64,
}

impl Trips {
    /// Adds one round trip of `ms`.
    pub fn add(&mut self, ms: f64) {
        self.count += 1;
        self.ms += ms;
    }
}

/// Which layer answered with the pack or ZIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheLayer {
    /// The data centre's Cache API.
    Edge,
    /// The cached copy in R2.
    R2,
    /// Built for this request.
    Built,
    /// Built for this request from stored pack segments.
    Segments,
}

impl CacheLayer {
    /// The name in the header.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheLayer::Edge => "edge",
            CacheLayer::R2 => "r2",
            CacheLayer::Built => "built",
            CacheLayer::Segments => "segments",
        }
    }
}

/// Everything one response reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timing {
    pub d1: Trips,
    pub r2: Trips,
    pub layer: Option<CacheLayer>,
    pub build_ms: Option<f64>,
    /// Plugins piped from their pack segments.
    pub segments: Option<usize>,
    /// Whether a miss from segments writes the cached copy.
    pub copy: Option<bool>,
}

impl Timing {
    /// The `Server-Timing` header value.
    pub fn header(&self) -> String {
        let mut parts = vec![
            format!("d1;count={};dur={:.1}", self.d1.count, self.d1.ms),
            format!("r2;count={};dur={:.1}", self.r2.count, self.r2.ms),
        ];
        if let Some(layer) = self.layer {
            parts.push(format!("cache;desc={}", layer.as_str()));
        }
        if let Some(ms) = self.build_ms {
            parts.push(format!("build;dur={ms:.1}"));
        }
        if let Some(n) = self.segments {
            parts.push(format!("segments;count={n}"));
        }
        if let Some(copy) = self.copy {
            parts.push(format!("copy;count={}", copy as u8));
        }
        parts.join(", ")
    }
}

/// The isolate's WebAssembly memory in bytes (`None` off wasm). Linear
/// memory only grows, so this is the high-water mark since the isolate
/// started: what counts against the platform's 128 MB.
pub fn wasm_memory_bytes() -> Option<u64> {
    #[cfg(target_arch = "wasm32")]
    {
        Some(core::arch::wasm32::memory_size(0) as u64 * 65_536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lists_counts_durations_layer_and_build() {
        let mut t = Timing::default();
        assert_eq!(t.header(), "d1;count=0;dur=0.0, r2;count=0;dur=0.0");
        t.d1.add(2.0);
        t.d1.add(1.25);
        t.r2.add(8.0);
        t.layer = Some(CacheLayer::R2);
        t.build_ms = Some(0.5);
        assert_eq!(
            t.header(),
            "d1;count=2;dur=3.2, r2;count=1;dur=8.0, cache;desc=r2, build;dur=0.5"
        );
        t.layer = Some(CacheLayer::Segments);
        t.segments = Some(7);
        t.copy = Some(false);
        assert!(t
            .header()
            .ends_with("cache;desc=segments, build;dur=0.5, segments;count=7, copy;count=0"));
    }
}
