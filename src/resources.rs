//! What a run will allocate, checked before anything is allocated: each region's tables per
//! agent (`RegionParams::bytes_per_agent`), the probe readings the run will keep (at least one
//! per probe and schedule point, [`BYTES_PER_READING`] each) and a base for the signals,
//! generators and world state of an agent, times the population, against a limit — the run
//! options' `max_memory`, else the environment variable `VALENCE_MAX_MEMORY` (e.g. `64G`),
//! else the machine's memory (`MemTotal` in `/proc/meminfo`; no check where that cannot be
//! read). The estimate is a lower bound (a probe's keys count once).
//!
//! A leaf module: callers pass the sizes in, so it imports nothing of the crate.

/// What an agent takes besides its regions' tables: signals, generators, world state.
pub const BASE_BYTES_PER_AGENT: u64 = 4096;

/// What one kept reading takes in memory (measured: ~240 bytes with the vector's slack, a
/// pavlovian run of 20,000 agents × 100 steps × 2 probes).
pub const BYTES_PER_READING: u64 = 200;

/// What a run will hold per agent: each region's bytes (by name) and the readings kept.
#[derive(Debug, Clone, Default)]
pub struct PerAgent<'a> {
    /// (region, bytes) for each region.
    pub regions: Vec<(&'a str, u64)>,
    /// Readings kept per agent, at least.
    pub readings: u64,
}

/// A size in bytes from `123`, `512K`, `64M`, `24G` or `1T` (powers of 1024; `B` and `iB`
/// suffixes accepted).
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_suffix("iB").or_else(|| s.strip_suffix('B')).unwrap_or(s);
    let (digits, shift) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 10),
        'M' | 'm' => (&s[..s.len() - 1], 20),
        'G' | 'g' => (&s[..s.len() - 1], 30),
        'T' | 't' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    let n: f64 = digits.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| (n * (1u64 << shift) as f64).min(u64::MAX as f64) as u64)
}

/// The memory limit: `option`, else `VALENCE_MAX_MEMORY` (an error if it is set and not a
/// size), else the machine's memory (`None` where it cannot be read).
pub fn memory_limit(option: Option<u64>) -> Result<Option<(u64, &'static str)>, String> {
    if let Some(b) = option {
        return Ok(Some((b, "the run's `max_memory`")));
    }
    if let Ok(v) = std::env::var("VALENCE_MAX_MEMORY") {
        return match parse_bytes(&v) {
            Some(b) => Ok(Some((b, "VALENCE_MAX_MEMORY"))),
            None => Err(format!(
                "VALENCE_MAX_MEMORY = `{v}`: expected a size in bytes, e.g. `64G`, `512M`"
            )),
        };
    }
    Ok(machine_memory().map(|b| (b, "this machine's memory")))
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn machine_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb.saturating_mul(1024))
}

/// A byte count for people: `41.0 GB`, `3.1 MB`, `512 B` (powers of 1000).
pub fn human(bytes: u64) -> String {
    let units = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    for (size, unit) in units {
        if bytes as f64 >= size {
            return format!("{:.1} {unit}", bytes as f64 / size);
        }
    }
    format!("{bytes} B")
}

/// Whether `population` agents of the given sizes fit in `limit`; if not, a message that gives
/// the sum, its largest terms and what to change.
pub fn check_memory(
    sizes: &PerAgent<'_>,
    population: usize,
    vocabulary: usize,
    limit: Option<(u64, &str)>,
) -> Result<(), String> {
    let Some((limit, source)) = limit else {
        return Ok(());
    };
    let mut parts: Vec<(String, u64)> = sizes
        .regions
        .iter()
        .map(|(name, b)| (format!("`{name}`"), *b))
        .collect();
    parts.push((
        format!("{} readings", sizes.readings),
        sizes.readings.saturating_mul(BYTES_PER_READING),
    ));
    let per_agent = parts
        .iter()
        .fold(BASE_BYTES_PER_AGENT, |sum, (_, b)| sum.saturating_add(*b));
    let total = per_agent.saturating_mul(population as u64);
    if total <= limit {
        return Ok(());
    }
    parts.sort_by_key(|p| std::cmp::Reverse(p.1));
    let largest: Vec<String> = parts
        .iter()
        .filter(|(_, b)| *b > 0)
        .take(3)
        .map(|(n, b)| format!("{n} {}", human(*b)))
        .collect();
    let of = match largest.is_empty() {
        true => String::new(),
        false => format!(" ({} of it)", largest.join(", ")),
    };
    Err(format!(
        "population {population} × at least {} per agent{of} with {vocabulary} words = {}, more \
         than the {} of {source}; lower `population`, a region's size or how often probes \
         read, or set the limit (VALENCE_MAX_MEMORY=64G)",
        human(per_agent),
        human(total),
        human(limit)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("64M"), Some(64 << 20));
        assert_eq!(parse_bytes("24GiB"), Some(24 << 30));
        assert_eq!(parse_bytes("1.5k"), Some(1536));
        assert_eq!(parse_bytes("-1G"), None);
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(human(41_000_000_000), "41.0 GB");
    }

    #[test]
    fn the_sum_is_checked_against_the_limit_and_explained() {
        let sizes = PerAgent {
            regions: vec![("cortex", 1_000_000), ("vta", 0)],
            readings: 10,
        };
        let per_agent = BASE_BYTES_PER_AGENT + 1_000_000 + 10 * BYTES_PER_READING;
        assert!(check_memory(&sizes, 10, 5, Some((10 * per_agent, "a test"))).is_ok());
        let e = check_memory(&sizes, 11, 5, Some((10 * per_agent, "a test"))).unwrap_err();
        assert!(
            e.starts_with(
                "population 11 × at least 1.0 MB per agent (`cortex` 1.0 MB, 10 readings 2.0 kB of it)"
            ),
            "{e}"
        );
        assert!(e.contains("more than the 10.1 MB of a test"), "{e}");
        assert!(
            check_memory(&sizes, usize::MAX, 5, None).is_ok(),
            "no limit known: no check"
        );
    }
}
