/*!
A small deterministic random number generator and Stripe-style id helpers.

The dataset must be identical for a given seed on every machine and with every dependency version, so
the generator is written here (SplitMix64, public domain) rather than taken from a crate whose stream may
change between releases.
*/

/// SplitMix64: fast, statistically good enough for fake data, and stable forever.
#[derive(Debug, Clone)]
pub struct Rng(u64);

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `lo..=hi` (returns `lo` when `hi < lo`).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + (self.next_u64() % span) as i64
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// A count drawn uniformly from `0..=round(2 * mean)`, so that its average is `mean`.
    pub fn count_around(&mut self, mean: f64) -> usize {
        let max = (2.0 * mean).round().max(0.0) as i64;
        self.range(0, max) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `n` characters from `[0-9A-Za-z]`, like the random part of Stripe ids.
    pub fn alnum(&mut self, n: usize) -> String {
        (0..n).map(|_| ALNUM[self.below(ALNUM.len())] as char).collect()
    }

    /// `n` characters from `[0-9A-Z]`.
    pub fn upper(&mut self, n: usize) -> String {
        (0..n).map(|_| ALNUM[self.below(36)] as char).collect()
    }

    /// `n` decimal digits.
    pub fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| (b'0' + self.below(10) as u8) as char).collect()
    }

    /// A Stripe-style id: `prefix` + `n` random characters, e.g. `cus_QXg1o8vcGmoR32`.
    pub fn id(&mut self, prefix: &str, n: usize) -> String {
        let mut s = String::with_capacity(prefix.len() + n);
        s.push_str(prefix);
        s.push_str(&self.alnum(n));
        s
    }

    /// A random (version 4) UUID, as used for idempotency keys.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    /// A derived generator, so that one object's cosmetic values do not shift when another changes.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let v = r.range(-3, 3);
            assert!((-3..=3).contains(&v));
            assert!(r.below(5) < 5);
        }
        assert_eq!(r.range(4, 4), 4);
        assert_eq!(r.id("cus_", 14).len(), 18);
        assert_eq!(r.uuid().len(), 36);
    }
}
