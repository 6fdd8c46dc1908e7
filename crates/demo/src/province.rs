//! A synthetic two-level province for benchmarks and import tests.

use crate::people::{self, reach, CitizenAlloc, PhoneAlloc};
use crate::{DemoUnit, ProvinceSpec, ProvinceStats};
use danvan_domain::UnitLevel;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Header of the household import sheet.
pub(crate) const HEADER: [&str; 12] = [
    "Mã hộ",
    "Họ và tên",
    "Ngày sinh",
    "Giới tính",
    "Quan hệ với chủ hộ",
    "Số điện thoại",
    "Số CCCD",
    "Thôn",
    "Xã",
    "Địa chỉ",
    "Nhận tin qua",
    "Tổ dân vận",
];

/// Syllables that make plausible place names.
const SYLLABLES: &[&str] = &[
    "An",
    "Bình",
    "Đông",
    "Hòa",
    "Hưng",
    "Phúc",
    "Tân",
    "Thịnh",
    "Yên",
    "Quang",
    "Minh",
    "Lạc",
    "Sơn",
    "Thành",
    "Phong",
    "Trung",
    "Hải",
    "Nghĩa",
    "Đức",
    "Vĩnh",
    "Xuân",
    "Kim",
    "Ngọc",
    "Hồng",
    "Lâm",
    "Đồng",
    "Mỹ",
    "Thượng",
    "Lợi",
    "Tiến",
    "Long",
    "Hà",
];

const XOM: &[&str] = &[
    "Xóm Đình",
    "Xóm Chùa",
    "Xóm Giữa",
    "Xóm Trên",
    "Xóm Dưới",
    "Xóm Đồng",
    "Xóm Cầu",
];

/// All two-syllable names in an order shuffled by `seed`.
fn names(seed: u64) -> Vec<String> {
    let mut out = Vec::with_capacity(SYLLABLES.len() * SYLLABLES.len());
    for a in SYLLABLES {
        for b in SYLLABLES {
            if a != b {
                out.push(format!("{a} {b}"));
            }
        }
    }
    out.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    out
}

/// The i-th unique name from a shuffled list; numbered once the list runs out.
fn nth_name(list: &[String], i: usize) -> String {
    let base = list.get(i % list.len().max(1)).map_or("", String::as_str);
    match i / list.len().max(1) {
        0 => base.to_string(),
        round => format!("{base} {}", round + 1),
    }
}

/// The unit tree of a synthetic province "Tỉnh Thử Nghiệm": province `p`,
/// communes `p/c001`…, hamlets `p/c001/h01`… (two-level structure, no
/// districts, no codes). Commune names are unique in the province, hamlet
/// names unique within their commune. Parents come before children.
pub fn province_units(spec: &ProvinceSpec) -> Vec<DemoUnit> {
    let mut units = Vec::with_capacity(1 + spec.communes * (1 + spec.hamlets_per_commune));
    units.push(DemoUnit {
        key: "p".to_string(),
        parent: None,
        level: UnitLevel::Province,
        name: "Tỉnh Thử Nghiệm".to_string(),
        code: None,
        valid_from: None,
        valid_to: None,
    });
    let commune_names = names(spec.seed ^ 0xC0);
    for c in 0..spec.communes {
        let key = format!("p/c{:03}", c + 1);
        units.push(DemoUnit {
            key: key.clone(),
            parent: Some("p".to_string()),
            level: UnitLevel::Commune,
            name: format!("Xã {}", nth_name(&commune_names, c)),
            code: None,
            valid_from: None,
            valid_to: None,
        });
        let hamlet_names = names(spec.seed.wrapping_add(c as u64 + 1).rotate_left(17));
        for h in 0..spec.hamlets_per_commune {
            units.push(DemoUnit {
                key: format!("{key}/h{:02}", h + 1),
                parent: Some(key.clone()),
                level: UnitLevel::Hamlet,
                name: format!("Thôn {}", nth_name(&hamlet_names, h)),
                code: None,
                valid_from: None,
                valid_to: None,
            });
        }
    }
    units
}

/// Writes the household sheet an official would import for the province of
/// [`province_units`]: one row per resident (head first), household columns
/// repeated on every row, "Tổ dân vận" empty. Rows are generated and written
/// one household at a time; phone numbers and citizen ids are unique across
/// the file. Households are spread evenly over the hamlets.
pub fn write_province_csv<W: std::io::Write>(
    spec: &ProvinceSpec,
    out: W,
) -> std::io::Result<ProvinceStats> {
    let units = province_units(spec);
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;

    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut phones = PhoneAlloc::new();
    let mut ids = CitizenAlloc::new();
    let mut stats = ProvinceStats::default();

    let hamlet_count = spec.communes * spec.hamlets_per_commune;
    if hamlet_count == 0 {
        w.flush()?;
        return Ok(stats);
    }
    let per_hamlet = spec.households / hamlet_count;
    let extra = spec.households % hamlet_count;

    let mut commune = "";
    let mut hamlet_index = 0;
    for u in &units {
        match u.level {
            UnitLevel::Commune => commune = u.name.as_str(),
            UnitLevel::Hamlet => {
                let count = per_hamlet + usize::from(hamlet_index < extra);
                hamlet_index += 1;
                for j in 0..count {
                    stats.households += 1;
                    let code = format!("H{:07}", stats.households);
                    let reach = reach(&mut rng);
                    let people = people::household(&mut rng, &mut phones, &mut ids, reach, None);
                    let xom = XOM[rng.gen_range(0..XOM.len())];
                    let address = format!("{xom}, ngõ {}, số {}", j / 20 + 1, j % 20 + 1);
                    for p in &people {
                        stats.residents += 1;
                        let birth = p.date.map_or_else(
                            || p.year.to_string(),
                            |d| d.format("%d/%m/%Y").to_string(),
                        );
                        w.write_record([
                            code.as_str(),
                            p.full_name().as_str(),
                            birth.as_str(),
                            p.gender.label_vi(),
                            p.relation,
                            p.phone.as_deref().unwrap_or(""),
                            p.citizen_id.as_deref().unwrap_or(""),
                            u.name.as_str(),
                            commune,
                            address.as_str(),
                            reach.label_vi(),
                            "",
                        ])?;
                    }
                }
            }
            _ => {}
        }
    }
    w.flush()?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use danvan_domain::{CitizenId, Phone, Reach};
    use std::collections::{HashMap, HashSet};

    fn small() -> ProvinceSpec {
        ProvinceSpec {
            communes: 2,
            hamlets_per_commune: 3,
            households: 500,
            seed: 42,
        }
    }

    #[test]
    fn units_are_unique_and_ordered() {
        let spec = ProvinceSpec {
            communes: 900,
            hamlets_per_commune: 12,
            households: 0,
            seed: 3,
        };
        let units = province_units(&spec);
        assert_eq!(units.len(), 1 + 900 * 13);
        assert_eq!(units[0].name, "Tỉnh Thử Nghiệm");
        assert_eq!(units[1].key, "p/c001");
        assert_eq!(units[2].key, "p/c001/h01");
        let communes: HashSet<&str> = units
            .iter()
            .filter(|u| u.level == UnitLevel::Commune)
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(communes.len(), 900);
        let mut hamlets: HashMap<&str, HashSet<&str>> = HashMap::new();
        for u in units.iter().filter(|u| u.level == UnitLevel::Hamlet) {
            let parent = u.parent.as_deref().unwrap();
            assert!(hamlets.entry(parent).or_default().insert(u.name.as_str()));
        }
        assert_eq!(hamlets.len(), 900);
    }

    #[test]
    fn small_province_csv() {
        let mut buf = Vec::new();
        let stats = write_province_csv(&small(), &mut buf).unwrap();
        assert_eq!(stats.households, 500);
        let text = String::from_utf8(buf.clone()).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            "Mã hộ,Họ và tên,Ngày sinh,Giới tính,Quan hệ với chủ hộ,Số điện thoại,Số CCCD,Thôn,Xã,Địa chỉ,Nhận tin qua,Tổ dân vận"
        );
        let units = province_units(&small());
        let names: HashSet<&str> = units.iter().map(|u| u.name.as_str()).collect();
        let labels: HashSet<&str> = [Reach::Smartphone, Reach::BasicPhone, Reach::NoPhone]
            .iter()
            .map(|r| r.label_vi())
            .collect();
        let mut rdr = csv::Reader::from_reader(buf.as_slice());
        let mut rows = 0u64;
        let mut codes = Vec::new();
        let mut phones = HashSet::new();
        let mut ids = HashSet::new();
        for rec in rdr.records() {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), 12);
            rows += 1;
            if codes.last().map(String::as_str) != Some(&rec[0]) {
                codes.push(rec[0].to_string());
                assert_eq!(&rec[4], "Chủ hộ");
            }
            let birth = &rec[2];
            assert!(
                birth.len() == 4 || (birth.len() == 10 && &birth[2..3] == "/"),
                "{birth}"
            );
            assert!(["Nam", "Nữ"].contains(&&rec[3]));
            if !rec[5].is_empty() {
                let phone = Phone::parse(&rec[5]).unwrap();
                assert!(phone.is_mobile());
                assert_eq!(phone.national(), &rec[5]);
                assert!(phones.insert(rec[5].to_string()));
            }
            if !rec[6].is_empty() {
                CitizenId::parse(&rec[6]).unwrap();
                assert!(ids.insert(rec[6].to_string()));
            }
            assert!(names.contains(&rec[7]) && rec[7].starts_with("Thôn "));
            assert!(names.contains(&rec[8]) && rec[8].starts_with("Xã "));
            assert!(labels.contains(&rec[10]));
            assert!(rec[11].is_empty());
        }
        assert_eq!(rows, stats.residents);
        assert_eq!(codes.len(), 500);
        assert_eq!(codes[0], "H0000001");
        assert_eq!(codes[499], "H0000500");
        let mean = rows as f64 / 500.0;
        assert!((3.4..=3.9).contains(&mean), "{mean}");
    }

    #[test]
    fn csv_is_deterministic() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_province_csv(&small(), &mut a).unwrap();
        write_province_csv(&small(), &mut b).unwrap();
        assert_eq!(a, b);
    }
}
