/*!
`account_shard: "k/N"`: the share of a Connect sync's accounts one run reads, so that N jobs with
the same config and shards 1/N … N/N read disjoint sets of accounts, each with its own state.

An account belongs to shard `k` when [`shard_of`] its id is `k`: a hash the tap owns (FNV-1a, 64
bits, of the id's bytes, then MurmurHash3's 64-bit finalizer), so the split never changes between
releases, machines or runs, and an account connected later lands in one shard without moving the
others. The platform (the key's own account) belongs to shard 1, with everything read as the
platform: its own streams (with `connected_accounts: all`) and the platform's streams, `accounts`
and `persons` (Scope::Platform in `streams`). A connected account's changes to those two streams are listed in that account's
events, so shard 1 also reads the events of the other shards' accounts for those changes only
(one request per account and run when nothing changed), and keeps their bookmarks.
*/

use crate::error::{Error, Result};

/// One shard of N: `index` in `1..=count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// FNV-1a, 64 bits: a fixed function of the bytes (unlike std's `DefaultHasher`, which may change
/// between Rust releases).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// MurmurHash3's `fmix64`: every input bit moves every output bit about half the time.
pub fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// The shard (`1..=count`) of an account id: `fmix64(fnv1a64(id)) mod count`, plus one. FNV-1a
/// alone does not spread well over a few shards: its low bits depend only on the low bits of each
/// byte (`hash mod 8` sees only each character's last 3 bits) and its high bits barely on the
/// last byte (ids that differ in their last character would share a shard); the finalizer mixes
/// both.
pub fn shard_of(account_id: &str, count: u32) -> u32 {
    (fmix64(fnv1a64(account_id.as_bytes())) % u64::from(count)) as u32 + 1
}

impl Shard {
    /// Parses `"k/N"` (spaces around the numbers allowed); the problem says what to write instead.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = |problem: String| Error::config("account_shard", problem);
        let form = || format!("must be \"k/N\" (this job's shard k of N shards, 1 ≤ k ≤ N), such as \"3/8\", got {text:?}");
        let (k, n) = text.split_once('/').ok_or_else(|| bad(form()))?;
        let number = |s: &str| -> Result<u32> {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(form()));
            }
            s.parse::<u32>().map_err(|_| bad(format!("has a number too large ({s}): shards are counted up to {}", u32::MAX)))
        };
        let (index, count) = (number(k)?, number(n)?);
        if count == 0 {
            return Err(bad(format!("{text:?} has 0 shards: N must be at least 1 (\"1/1\" reads every account)")));
        }
        if index == 0 || index > count {
            return Err(bad(format!(
                "{text:?} names shard {index} of {count}: k counts from 1 to N, such as \"1/{count}\" … \"{count}/{count}\""
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard reads the account `account_id` (a connected account).
    pub fn holds(&self, account_id: &str) -> bool {
        shard_of(account_id, self.count) == self.index
    }

    /// Whether this shard reads as the platform: the key's own account and the platform's
    /// streams (`accounts`, `persons`). Shard 1 does.
    pub fn holds_platform(&self) -> bool {
        self.index == 1
    }

    /// The accounts of a run this shard keeps, of `accounts` (`held`: whether an account is this
    /// shard's). The platform's shard keeps the others too when `follows` (the platform's streams
    /// are selected): it reads their events for their changes to those streams, nothing else.
    pub fn keep<T>(&self, accounts: Vec<T>, held: impl Fn(&T) -> bool, follows: bool) -> Vec<T> {
        let total = accounts.len();
        let follows = follows && self.holds_platform();
        let (mut kept, mut mine) = (Vec::with_capacity(total), 0);
        for account in accounts {
            let is_mine = held(&account);
            mine += usize::from(is_mine);
            if is_mine || follows {
                kept.push(account);
            }
        }
        let platform = if self.holds_platform() {
            " (shard 1: the platform's own account and streams too, where the run reads them)"
        } else {
            " (the platform's own account and streams are shard 1's)"
        };
        let followed = if follows && total > mine {
            format!("; it also reads the other {} accounts' events, for their changes to accounts and persons only", total - mine)
        } else {
            String::new()
        };
        crate::log::info(&format!(
            "account_shard {}/{}: this shard reads {mine} of the run's {total} accounts{platform}{followed}",
            self.index, self.count
        ));
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_is_the_published_function() {
        // Test vectors of the FNV reference (isthe.com/chongo/tech/comp/fnv).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    /// The split is part of the contract: a release that moved an account to another shard would
    /// make two jobs read it (and its bookmarks live in the other job's state). These values must
    /// never change.
    #[test]
    fn the_shard_of_an_id_never_changes() {
        let pinned = [
            ("acct_1Example", 8, PINNED[0]),
            ("acct_1Nv0FGQ9RKHgCVdK", 8, PINNED[1]),
            ("acct_1Nv0FGQ9RKHgCVdL", 8, PINNED[2]),
            ("acct_1OPouMJN9nNrTQHz", 3, PINNED[3]),
            ("acct_1OPouMJN9nNrTQHz", 4, PINNED[4]),
        ];
        for (id, n, want) in pinned {
            assert_eq!(shard_of(id, n), want, "{id} of {n} shards");
        }
        assert_eq!(fmix64(fnv1a64(b"acct_1Example")), PINNED_HASH);
    }
    const PINNED: [u32; 5] = [7, 4, 7, 3, 1];
    const PINNED_HASH: u64 = 0x6706_6d32_7b14_01ee;

    /// Synthetic ids shaped like Stripe's (`acct_` and 16 base-62 characters).
    fn ids(n: usize) -> Vec<String> {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                let tail: String = (0..16)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        ALPHABET[(x % 62) as usize] as char
                    })
                    .collect();
                format!("acct_1{tail}")
            })
            .collect()
    }

    #[test]
    fn accounts_spread_evenly_over_the_shards() {
        let ids = ids(16_000);
        for n in [2u32, 3, 4, 8, 16] {
            let mut per = vec![0usize; n as usize];
            for id in &ids {
                per[(shard_of(id, n) - 1) as usize] += 1;
            }
            let mean = ids.len() / n as usize;
            for (k, &c) in per.iter().enumerate() {
                // A uniform hash gives a binomial count: its standard deviation is under √mean, and
                // 5 of them (±16% at 1,000 a shard) is what a fair split never strays beyond.
                let bound = 5.0 * (mean as f64).sqrt();
                assert!((c.abs_diff(mean) as f64) <= bound, "{n} shards: shard {} holds {c}, mean {mean}: {per:?}", k + 1);
            }
        }
    }

    #[test]
    fn ids_differing_in_one_letters_high_bits_spread_too() {
        // 'a' (0x61) and 'q' (0x71) share their low 4 bits: `hash % 8` could not tell such ids apart.
        let ids: Vec<String> = (0..512).map(|i| format!("acct_{}", format!("{i:09b}").replace('0', "a").replace('1', "q"))).collect();
        let shards: std::collections::BTreeSet<u32> = ids.iter().map(|id| shard_of(id, 8)).collect();
        assert_eq!(shards.len(), 8, "{shards:?}");
        let low_bits: std::collections::BTreeSet<u64> = ids.iter().map(|id| fnv1a64(id.as_bytes()) % 8).collect();
        assert_eq!(low_bits.len(), 1, "the premise: FNV-1a's low bits do not see them");
    }

    #[test]
    fn ids_differing_in_their_last_character_spread_too() {
        const ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let ids: Vec<String> = ALPHABET.chars().map(|c| format!("acct_1Nv0FGQ9RKHgCVd{c}")).collect();
        let shards: std::collections::BTreeSet<u32> = ids.iter().map(|id| shard_of(id, 8)).collect();
        assert_eq!(shards.len(), 8, "{shards:?}");
        let high_bits: std::collections::BTreeSet<u64> = ids.iter().map(|id| fnv1a64(id.as_bytes()) >> 61).collect();
        assert_eq!(high_bits.len(), 1, "the premise: FNV-1a's high bits do not see them");
    }

    #[test]
    fn every_id_is_in_exactly_one_shard() {
        for n in 1..=9 {
            for id in ids(200) {
                let holders = (1..=n).filter(|&k| Shard { index: k, count: n }.holds(&id)).count();
                assert_eq!(holders, 1, "{id} of {n} shards");
            }
        }
    }

    #[test]
    fn keep_is_the_held_accounts_plus_the_followed_ones_on_shard_1() {
        let accounts = vec![("platform", true), ("a", false), ("b", true)];
        let held = |a: &(&str, bool)| a.1;
        let one = Shard { index: 1, count: 2 };
        let two = Shard { index: 2, count: 2 };
        assert_eq!(one.keep(accounts.clone(), held, false), vec![("platform", true), ("b", true)]);
        assert_eq!(one.keep(accounts.clone(), held, true), accounts);
        assert_eq!(two.keep(accounts.clone(), held, true), vec![("platform", true), ("b", true)], "only shard 1 follows");
    }

    #[test]
    fn parse_accepts_k_of_n_and_says_what_to_fix() {
        assert_eq!(Shard::parse("3/8").unwrap(), Shard { index: 3, count: 8 });
        assert_eq!(Shard::parse(" 1 / 1 ").unwrap(), Shard { index: 1, count: 1 });
        let problem = |s: &str| Shard::parse(s).unwrap_err().to_string();
        for bad in ["3", "3/", "/8", "a/8", "3/8/2", "-1/8", "3.0/8", "+3/8"] {
            let p = problem(bad);
            assert!(p.contains("`account_shard` must be \"k/N\"") && p.contains("\"3/8\""), "{bad}: {p}");
        }
        assert!(problem("0/8").contains("k counts from 1 to N"), "{}", problem("0/8"));
        assert!(problem("9/8").contains("names shard 9 of 8"), "{}", problem("9/8"));
        assert!(problem("1/0").contains("N must be at least 1"), "{}", problem("1/0"));
        assert!(problem("1/99999999999").contains("too large"), "{}", problem("1/99999999999"));
    }
}
