//! Synthetic people: name pools with realistic weights, household composition,
//! and allocators that hand out unique phone numbers and citizen ids without
//! remembering what they issued (so a province of millions streams in O(1)).

use chrono::NaiveDate;
use danvan_domain::{Gender, Reach};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The year ages are computed against (fixed: the demo never reads the clock).
pub(crate) const REFERENCE_YEAR: i32 = 2025;

/// Family names with rough national weights (per mille). Thân and Giáp are
/// typical of Bắc Giang.
const FAMILY: &[(&str, u32)] = &[
    ("Nguyễn", 350),
    ("Trần", 95),
    ("Lê", 85),
    ("Phạm", 65),
    ("Hoàng", 45),
    ("Vũ", 40),
    ("Đỗ", 30),
    ("Bùi", 30),
    ("Đặng", 22),
    ("Ngô", 22),
    ("Dương", 20),
    ("Phan", 18),
    ("Lý", 10),
    ("Hà", 14),
    ("Đinh", 14),
    ("Trịnh", 12),
    ("Đào", 12),
    ("Thân", 16),
    ("Giáp", 12),
    ("Lương", 8),
    ("Mai", 6),
    ("Tạ", 6),
    ("Lưu", 6),
    ("Chu", 6),
    ("Vi", 4),
    ("Đoàn", 8),
];

const MIDDLE_MALE: &[(&str, u32)] = &[
    ("Văn", 450),
    ("Đức", 90),
    ("Minh", 80),
    ("Quang", 60),
    ("Hữu", 60),
    ("Xuân", 50),
    ("Công", 50),
    ("Đình", 50),
    ("Mạnh", 30),
    ("Tiến", 30),
    ("Thành", 30),
    ("Ngọc", 20),
];

const MIDDLE_FEMALE: &[(&str, u32)] = &[
    ("Thị", 550),
    ("Thu", 70),
    ("Ngọc", 60),
    ("Thanh", 60),
    ("Minh", 40),
    ("Phương", 40),
    ("Hồng", 40),
    ("Kim", 30),
    ("Bích", 25),
    ("Thùy", 25),
    ("Mai", 20),
];

/// Given names. Near-collisions that differ only by diacritics are deliberate
/// (An/Ân, Đức/Dục, Hương/Hường, Thủy/Thúy, Hà/Hạ) so that search and
/// collation have real work to do.
const GIVEN_MALE: &[(&str, u32)] = &[
    ("An", 30),
    ("Ân", 8),
    ("Anh", 30),
    ("Bình", 25),
    ("Cường", 25),
    ("Chiến", 15),
    ("Dũng", 30),
    ("Dục", 4),
    ("Đạt", 20),
    ("Định", 12),
    ("Đông", 12),
    ("Đức", 30),
    ("Giang", 10),
    ("Hải", 25),
    ("Hiếu", 15),
    ("Hiệp", 12),
    ("Hòa", 15),
    ("Hoàng", 15),
    ("Hùng", 30),
    ("Huy", 20),
    ("Khánh", 12),
    ("Khải", 8),
    ("Kiên", 12),
    ("Long", 20),
    ("Lâm", 12),
    ("Mạnh", 15),
    ("Minh", 25),
    ("Nam", 25),
    ("Nghĩa", 15),
    ("Phong", 15),
    ("Phúc", 12),
    ("Quân", 20),
    ("Quang", 15),
    ("Sơn", 25),
    ("Tài", 12),
    ("Thắng", 20),
    ("Thành", 20),
    ("Thịnh", 12),
    ("Toàn", 12),
    ("Trung", 20),
    ("Tú", 10),
    ("Tuấn", 30),
    ("Tùng", 15),
    ("Việt", 15),
    ("Vinh", 15),
    ("Vũ", 10),
];

const GIVEN_FEMALE: &[(&str, u32)] = &[
    ("An", 12),
    ("Anh", 25),
    ("Chi", 15),
    ("Dung", 20),
    ("Duyên", 12),
    ("Giang", 12),
    ("Hà", 20),
    ("Hạ", 4),
    ("Hạnh", 20),
    ("Hằng", 25),
    ("Hiền", 20),
    ("Hoa", 25),
    ("Hòa", 15),
    ("Hồng", 20),
    ("Huệ", 15),
    ("Hương", 30),
    ("Hường", 12),
    ("Huyền", 20),
    ("Lan", 25),
    ("Liên", 15),
    ("Linh", 25),
    ("Loan", 15),
    ("Mai", 25),
    ("My", 10),
    ("Nga", 20),
    ("Ngân", 12),
    ("Ngọc", 15),
    ("Nhung", 15),
    ("Oanh", 10),
    ("Phương", 25),
    ("Quyên", 10),
    ("Quỳnh", 12),
    ("Tâm", 12),
    ("Thảo", 25),
    ("Thơm", 10),
    ("Thủy", 20),
    ("Thúy", 15),
    ("Trang", 25),
    ("Tuyết", 12),
    ("Vân", 15),
    ("Yến", 20),
];

/// Mobile prefixes (after the leading 0) with rough market weights:
/// Viettel 86/96/97/98/32–39, VinaPhone 88/91/94/81–85, MobiFone 89/90/93/70/76–79.
const PREFIXES: &[(&str, u32)] = &[
    ("86", 6),
    ("96", 9),
    ("97", 9),
    ("98", 9),
    ("32", 3),
    ("33", 3),
    ("34", 3),
    ("35", 3),
    ("36", 3),
    ("37", 3),
    ("38", 3),
    ("39", 3),
    ("88", 4),
    ("91", 6),
    ("94", 5),
    ("81", 2),
    ("82", 2),
    ("83", 2),
    ("84", 2),
    ("85", 2),
    ("89", 3),
    ("90", 5),
    ("93", 4),
    ("70", 2),
    ("76", 2),
    ("77", 2),
    ("78", 2),
    ("79", 2),
];

/// Weighted pick from a non-empty table.
pub(crate) fn pick<'a>(rng: &mut ChaCha8Rng, table: &[(&'a str, u32)]) -> &'a str {
    pick_index(rng, table).map_or("", |i| table[i].0)
}

fn pick_index(rng: &mut ChaCha8Rng, table: &[(&str, u32)]) -> Option<usize> {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return None;
    }
    let mut roll = rng.gen_range(0..total);
    for (i, (_, w)) in table.iter().enumerate() {
        if roll < *w {
            return Some(i);
        }
        roll -= w;
    }
    None
}

/// A date that is known to be valid; falls back to the epoch instead of panicking.
pub(crate) fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// A bijection of `0..10^digits` (`x` must be below `10^digits`) that makes
/// consecutive counters look random: affine map, decimal digit reversal,
/// affine map. The multipliers are coprime with 10; `salt` varies the offsets.
fn scramble(x: u64, salt: u64, digits: u32) -> u64 {
    let n = 10u64.pow(digits);
    let b1 = (salt.wrapping_mul(2_654_435_761) + 4_242_421) % n;
    let b2 = (salt.wrapping_mul(40_503) + 7_777_771) % n;
    let y = (x % n * 3_141_593 + b1) % n;
    let mut r = 0;
    let mut v = y;
    for _ in 0..digits {
        r = r * 10 + v % 10;
        v /= 10;
    }
    (r * 2_718_281 + b2) % n
}

/// Hands out unique mobile numbers ("0" + prefix + 7 digits). Each prefix has
/// a counter mapped through a bijection of 0..10^7 ([`scramble`]), so numbers look
/// random yet never repeat, with no memory of what was issued.
pub(crate) struct PhoneAlloc {
    counters: Vec<u32>,
}

const SUBSCRIBERS: u64 = 10_000_000;

impl PhoneAlloc {
    pub(crate) fn new() -> Self {
        PhoneAlloc {
            counters: vec![0; PREFIXES.len()],
        }
    }

    /// Next unique national number, e.g. "0961234567"; None when every prefix is exhausted.
    pub(crate) fn next(&mut self, rng: &mut ChaCha8Rng) -> Option<String> {
        let first = pick_index(rng, PREFIXES)?;
        for step in 0..PREFIXES.len() {
            let p = (first + step) % PREFIXES.len();
            let c = u64::from(self.counters[p]);
            if c < SUBSCRIBERS {
                self.counters[p] += 1;
                let sub = scramble(c, p as u64, 7);
                return Some(format!("0{}{:07}", PREFIXES[p].0, sub));
            }
        }
        None
    }
}

/// Hands out unique 12-digit citizen ids: "024" (born in Bắc Giang), the
/// century/gender digit, two digits of the birth year, six serial digits
/// (a per-bucket counter through [`scramble`]).
pub(crate) struct CitizenAlloc {
    counters: Vec<u32>,
}

const SERIALS: u64 = 1_000_000;

impl CitizenAlloc {
    pub(crate) fn new() -> Self {
        CitizenAlloc {
            counters: vec![0; 400],
        }
    }

    pub(crate) fn next(&mut self, gender: Gender, year: i32) -> Option<String> {
        let female = matches!(gender, Gender::Female);
        let digit: u32 = match (year >= 2000, female) {
            (false, false) => 0,
            (false, true) => 1,
            (true, false) => 2,
            (true, true) => 3,
        };
        let yy = u32::try_from(year.rem_euclid(100)).ok()?;
        let bucket = usize::try_from(digit * 100 + yy).ok()?;
        let c = u64::from(*self.counters.get(bucket)?);
        if c >= SERIALS {
            return None;
        }
        self.counters[bucket] += 1;
        let serial = scramble(c, bucket as u64, 6);
        Some(format!("024{digit}{yy:02}{serial:06}"))
    }
}

/// A generated person before conversion to domain types.
#[derive(Debug, Clone)]
pub(crate) struct GenPerson {
    pub family: String,
    pub middle: String,
    pub given: String,
    pub gender: Gender,
    pub year: i32,
    pub date: Option<NaiveDate>,
    pub relation: &'static str,
    pub phone: Option<String>,
    pub citizen_id: Option<String>,
}

impl GenPerson {
    pub(crate) fn full_name(&self) -> String {
        format!("{} {} {}", self.family, self.middle, self.given)
    }
}

pub(crate) fn family_name(rng: &mut ChaCha8Rng) -> String {
    pick(rng, FAMILY).to_string()
}

pub(crate) fn gender(rng: &mut ChaCha8Rng, p_male: f64) -> Gender {
    if rng.gen_bool(p_male) {
        Gender::Male
    } else {
        Gender::Female
    }
}

/// Middle and given name for a gender (the demo only generates Male and Female).
pub(crate) fn middle_given(rng: &mut ChaCha8Rng, gender: Gender) -> (String, String) {
    let (m, g) = match gender {
        Gender::Female => (MIDDLE_FEMALE, GIVEN_FEMALE),
        _ => (MIDDLE_MALE, GIVEN_MALE),
    };
    (pick(rng, m).to_string(), pick(rng, g).to_string())
}

fn opposite(g: Gender) -> Gender {
    match g {
        Gender::Female => Gender::Male,
        _ => Gender::Female,
    }
}

/// Household size 1–7, mean ≈ 3.66.
fn household_size(rng: &mut ChaCha8Rng) -> usize {
    const SIZES: &[(&str, u32)] = &[
        ("1", 8),
        ("2", 15),
        ("3", 21),
        ("4", 29),
        ("5", 16),
        ("6", 8),
        ("7", 3),
    ];
    pick_index(rng, SIZES).map_or(4, |i| i + 1)
}

/// Reach of a household: ~65% smartphone, ~25% basic phone, ~10% none.
pub(crate) fn reach(rng: &mut ChaCha8Rng) -> Reach {
    let r = rng.gen_range(0..100);
    if r < 65 {
        Reach::Smartphone
    } else if r < 90 {
        Reach::BasicPhone
    } else {
        Reach::NoPhone
    }
}

/// A year in `lo..=hi` (tolerates a reversed range).
fn year_between(rng: &mut ChaCha8Rng, lo: i32, hi: i32) -> i32 {
    if hi <= lo {
        lo
    } else {
        rng.gen_range(lo..=hi)
    }
}

/// A child's birth year for a mother born in `mother`: 20–40 years later, not after 2024.
fn child_year(rng: &mut ChaCha8Rng, mother: i32) -> i32 {
    let hi = 40.min(REFERENCE_YEAR - 1 - mother);
    let lo = 18.min(hi);
    mother + year_between(rng, lo, hi)
}

struct Builder<'a> {
    rng: &'a mut ChaCha8Rng,
    people: Vec<GenPerson>,
}

impl Builder<'_> {
    fn add(&mut self, family: String, gender: Gender, year: i32, relation: &'static str) {
        let (middle, given) = middle_given(self.rng, gender);
        self.push(family, middle, given, gender, year, relation);
    }

    fn push(
        &mut self,
        family: String,
        middle: String,
        given: String,
        gender: Gender,
        year: i32,
        relation: &'static str,
    ) {
        // Older people more often have only a year of birth on record.
        let p_year_only = if year < 1960 { 0.4 } else { 0.15 };
        let date = if self.rng.gen_bool(p_year_only) {
            None
        } else {
            let m = self.rng.gen_range(1..=12);
            let d = self.rng.gen_range(1..=28);
            NaiveDate::from_ymd_opt(year, m, d)
        };
        self.people.push(GenPerson {
            family,
            middle,
            given,
            gender,
            year,
            date,
            relation,
            phone: None,
            citizen_id: None,
        });
    }
}

/// A forced head of household (used to plant names that tests look for).
pub(crate) struct ForcedHead {
    pub family: &'static str,
    pub middle: &'static str,
    pub given: &'static str,
    pub gender: Gender,
}

/// One household: head first ("Chủ hộ"), then spouse, a parent of the head,
/// children or a son's family. Children take the father's family name.
pub(crate) fn household(
    rng: &mut ChaCha8Rng,
    phones: &mut PhoneAlloc,
    ids: &mut CitizenAlloc,
    reach: Reach,
    forced: Option<&ForcedHead>,
) -> Vec<GenPerson> {
    let n = household_size(rng);
    let head_gender = forced.map_or_else(|| gender(rng, 0.75), |f| f.gender);
    let head_year = if n == 1 {
        if rng.gen_bool(0.6) {
            year_between(rng, 1938, 1962)
        } else {
            year_between(rng, 1985, 2003)
        }
    } else {
        year_between(rng, 1950, 1998)
    };
    let mut b = Builder {
        rng: &mut *rng,
        people: Vec::with_capacity(n),
    };
    let head_family = match forced {
        Some(f) => {
            b.push(
                f.family.to_string(),
                f.middle.to_string(),
                f.given.to_string(),
                f.gender,
                head_year,
                "Chủ hộ",
            );
            f.family.to_string()
        }
        None => {
            let fam = family_name(b.rng);
            b.add(fam.clone(), head_gender, head_year, "Chủ hộ");
            fam
        }
    };
    let mut remaining = n - 1;
    let mut father_family = matches!(head_gender, Gender::Male).then(|| head_family.clone());
    let mut mother_year = head_year;

    let p_spouse = if matches!(head_gender, Gender::Male) {
        0.95
    } else {
        0.4
    };
    if remaining > 0 && b.rng.gen_bool(p_spouse) {
        let g = opposite(head_gender);
        let gap = b.rng.gen_range(0..=5);
        let (year, relation) = match g {
            Gender::Female => (head_year + gap, "Vợ"),
            _ => (head_year - gap, "Chồng"),
        };
        let fam = family_name(b.rng);
        b.add(fam.clone(), g, year, relation);
        if matches!(g, Gender::Female) {
            mother_year = year;
        } else {
            father_family = Some(fam);
        }
        remaining -= 1;
    }
    // A father who does not live in the household still gives his family name.
    let father_family = father_family.unwrap_or_else(|| family_name(b.rng));

    let head_age = REFERENCE_YEAR - head_year;
    if remaining >= 2 && head_age <= 55 && b.rng.gen_bool(0.35) {
        let year = head_year - b.rng.gen_range(22..=32);
        if b.rng.gen_bool(0.5) {
            // The head's father shares the head's family name.
            b.add(head_family.clone(), Gender::Male, year, "Bố");
        } else {
            let fam = family_name(b.rng);
            b.add(fam, Gender::Female, year, "Mẹ");
        }
        remaining -= 1;
    }

    if remaining >= 3 && head_age >= 52 && b.rng.gen_bool(0.6) {
        // Three generations: a married son, his wife, their children.
        let son_year = child_year(b.rng, mother_year).min(2000);
        b.add(father_family.clone(), Gender::Male, son_year, "Con");
        let dil_year = (son_year + b.rng.gen_range(0..=3)).min(2002);
        let fam = family_name(b.rng);
        b.add(fam, Gender::Female, dil_year, "Con dâu");
        remaining -= 2;
        for _ in 0..remaining {
            let g = gender(b.rng, 0.52);
            let y = child_year(b.rng, dil_year);
            b.add(father_family.clone(), g, y, "Cháu");
        }
    } else {
        for _ in 0..remaining {
            let g = gender(b.rng, 0.52);
            let y = child_year(b.rng, mother_year);
            b.add(father_family.clone(), g, y, "Con");
        }
    }

    let mut people = b.people;
    contact_details(rng, phones, ids, reach, &mut people);
    people
}

/// Phones (adults often, teenagers sometimes, never in a NoPhone household;
/// at least the head when the household has any phone) and citizen ids (~60% of adults).
fn contact_details(
    rng: &mut ChaCha8Rng,
    phones: &mut PhoneAlloc,
    ids: &mut CitizenAlloc,
    reach: Reach,
    people: &mut [GenPerson],
) {
    let has_phones = !matches!(reach, Reach::NoPhone);
    for p in people.iter_mut() {
        let age = REFERENCE_YEAR - p.year;
        if has_phones {
            let chance = match age {
                a if a >= 76 => 0.4,
                a if a >= 18 => 0.8,
                a if a >= 15 => 0.3,
                _ => 0.0,
            };
            if chance > 0.0 && rng.gen_bool(chance) {
                p.phone = phones.next(rng);
            }
        }
        if age >= 18 && rng.gen_bool(0.6) {
            p.citizen_id = ids.next(p.gender, p.year);
        }
    }
    if has_phones && people.iter().all(|p| p.phone.is_none()) {
        if let Some(head) = people.first_mut() {
            head.phone = phones.next(rng);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn name_pools_are_large_enough() {
        let mut given: HashSet<&str> = GIVEN_MALE.iter().map(|(n, _)| *n).collect();
        given.extend(GIVEN_FEMALE.iter().map(|(n, _)| *n));
        assert!(given.len() >= 60, "{} given names", given.len());
        for pair in [("An", "Ân"), ("Đức", "Dục"), ("Hương", "Hường")] {
            assert!(given.contains(pair.0) && given.contains(pair.1));
        }
    }

    #[test]
    fn allocators_never_repeat() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut phones = PhoneAlloc::new();
        let mut seen = HashSet::new();
        for _ in 0..200_000 {
            let p = phones.next(&mut rng).unwrap();
            assert_eq!(p.len(), 10);
            assert!(seen.insert(p));
        }
        let mut ids = CitizenAlloc::new();
        let mut seen = HashSet::new();
        for i in 0..50_000 {
            let g = if i % 2 == 0 {
                Gender::Male
            } else {
                Gender::Female
            };
            let id = ids.next(g, 1990 + i % 3).unwrap();
            assert_eq!(id.len(), 12);
            assert!(seen.insert(id));
        }
        assert!(ids
            .next(Gender::Female, 2003)
            .unwrap()
            .starts_with("024303"));
        assert!(ids.next(Gender::Male, 1975).unwrap().starts_with("024075"));
    }

    #[test]
    fn scramble_is_a_bijection() {
        let mut seen = vec![false; 1_000_000];
        for x in 0..1_000_000 {
            let y = scramble(x, 17, 6) as usize;
            assert!(!seen[y]);
            seen[y] = true;
        }
    }

    #[test]
    fn ymd_is_panic_free() {
        assert_eq!(ymd(2025, 7, 1).to_string(), "2025-07-01");
        assert_eq!(ymd(2025, 2, 30), NaiveDate::default());
    }

    #[test]
    fn household_mean_size_is_plausible() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut phones = PhoneAlloc::new();
        let mut ids = CitizenAlloc::new();
        let mut total = 0;
        for _ in 0..5_000 {
            let r = reach(&mut rng);
            let h = household(&mut rng, &mut phones, &mut ids, r, None);
            assert!((1..=7).contains(&h.len()));
            assert_eq!(h[0].relation, "Chủ hộ");
            for p in &h {
                assert!(p.year >= 1900 && p.year < REFERENCE_YEAR, "{}", p.year);
            }
            if matches!(r, Reach::NoPhone) {
                assert!(h.iter().all(|p| p.phone.is_none()));
            } else {
                assert!(h.iter().any(|p| p.phone.is_some()));
            }
            total += h.len();
        }
        let mean = total as f64 / 5_000.0;
        assert!((3.4..=3.9).contains(&mean), "mean {mean}");
    }
}
