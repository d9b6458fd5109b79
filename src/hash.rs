//! roster's hash maps and sets: std's, with foldhash instead of SipHash. The planner hashes
//! every user's ids, keys and unique values several times (SipHash cost about a tenth of its CPU
//! at 100,000 users), and reading a snapshot or a Graph page looks up every attribute's name in
//! the names shared so far (`sorted_map`; SipHash, about 1 % of a plan's CPU). foldhash is
//! seeded per process, so a tenant cannot choose values that collide (hashbrown's own default;
//! <https://docs.rs/foldhash>).

/// `std::collections::HashMap` hashed with foldhash; make one with `default()`.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// `std::collections::HashSet` hashed with foldhash; make one with `default()`.
pub(crate) type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
