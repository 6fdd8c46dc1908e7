//! A year of made-up feedback for the pilot's hamlets, so the inbox and the
//! dashboard show something true to life: what residents of a northern
//! commune write about (rubbish, drains, stray dogs, strangers, dengue), on
//! the ways they write it, and what happens next — most items acknowledged
//! within hours and answered within days, some late, a few refused.
//!
//! Deterministic like everything in this crate: a constant seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What happens to a report after it is received, in hours after receipt.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// Acknowledged, answered (approved), and maybe rated by the reporter.
    Answered {
        ack_after: f64,
        answer_after: f64,
        answer: String,
        rating: Option<i32>,
    },
    /// Not ours: refused with a reason and where to go instead.
    Refused {
        after: f64,
        reason: String,
        refer_to: String,
    },
    /// Still being handled (acknowledged, or not even that: those go late).
    Open { ack_after: Option<f64> },
}

#[derive(Debug, Clone)]
pub struct DemoReport {
    /// Index into the caller's list of hamlets.
    pub hamlet: usize,
    pub topic: &'static str,
    pub severity: &'static str,
    /// `web`, `sms` or `member`.
    pub channel: &'static str,
    pub text: String,
    /// Hours after the start of the year.
    pub at_hours: f64,
    pub fate: Fate,
}

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "Rác thải sinh hoạt tồn đọng ở đầu {place} đã {n} ngày chưa được thu gom",
        "Tổ vệ sinh môi trường đã thu gom; thôn bố trí lịch thu gom 2 lần mỗi tuần.",
    ),
    (
        "Có người đổ trộm phế thải xây dựng ở {place} vào ban đêm",
        "Xã đã cho dọn phế thải và đặt biển cấm đổ rác; công an viên tăng tuần tra ban đêm.",
    ),
    (
        "Cống thoát nước ở {place} bị tắc, nước thải tràn ra đường",
        "Xã đã cho nạo vét cống và sửa nắp cống bị vỡ.",
    ),
    (
        "Khói đốt rơm rạ ở cánh đồng gần {place} bay vào khu dân cư",
        "Thôn đã tuyên truyền không đốt rơm rạ; hướng dẫn bà con ủ rơm làm phân.",
    ),
    (
        "Trại chăn nuôi lợn gần {place} xả nước thải gây mùi hôi",
        "Xã đã kiểm tra, yêu cầu chủ trại làm hầm biogas và cam kết không xả thải.",
    ),
];
const SECURITY: &[(&str, &str)] = &[
    (
        "Có người lạ đi xe máy dò xét các nhà ở {place} vào buổi trưa",
        "Công an xã đã xác minh và tăng cường tuần tra; đề nghị bà con khóa cửa cẩn thận.",
    ),
    (
        "Mất trộm gà và xe đạp ở {place} trong đêm",
        "Công an xã đã tiếp nhận, lập biên bản và đang điều tra.",
    ),
    (
        "Nhóm thanh niên đua xe, nẹt pô ở {place} sau 22 giờ",
        "Công an xã đã mời các thanh niên lên làm việc và thông báo cho gia đình.",
    ),
    (
        "Chó thả rông không rọ mõm ở {place}, trẻ em đi học sợ",
        "Thôn đã nhắc các hộ nuôi chó; xã sẽ xử phạt nếu tái phạm.",
    ),
    (
        "Hai hộ ở {place} tranh chấp lối đi chung, to tiếng nhiều lần",
        "Tổ hòa giải thôn đã hòa giải thành; hai hộ thống nhất giữ lối đi chung.",
    ),
];
const EPIDEMIC: &[(&str, &str)] = &[
    (
        "Nhiều muỗi và bọ gậy ở ao tù gần {place}, lo sốt xuất huyết",
        "Trạm y tế đã phun hóa chất diệt muỗi và hướng dẫn bà con lật úp dụng cụ chứa nước.",
    ),
    (
        "Gà chết nhiều ở {place} không rõ nguyên nhân",
        "Cán bộ thú y đã lấy mẫu, hướng dẫn tiêu hủy và khử trùng chuồng trại.",
    ),
    (
        "Đề nghị tổ chức tiêm chủng cho trẻ ở {place}",
        "Trạm y tế sẽ tiêm chủng tại nhà văn hóa thôn vào sáng thứ Bảy tới.",
    ),
];
const CRIME_TIP: &[&str] = &[
    "Nghi có người sử dụng ma túy ở nhà hoang gần {place}",
    "Có người lạ đến {place} mời vay tiền lãi cao, đòi nợ đe dọa",
];
const DISEASE_CASE: &[&str] = &[
    "Gia đình ở {place} có người sốt cao, phát ban, nghi sốt xuất huyết",
    "Có trẻ ở {place} bị tay chân miệng, đã nghỉ học",
];
const PLACES: &[&str] = &[
    "ngõ 2",
    "ngõ 5",
    "xóm Đình",
    "xóm Giữa",
    "cổng làng",
    "nhà văn hóa thôn",
    "trường mầm non",
    "chợ thôn",
    "đường liên thôn",
    "bờ mương",
    "cánh đồng Ba Gò",
    "xóm Cầu",
];
const REFUSALS: &[(&str, &str)] = &[
    (
        "Việc cấp giấy chứng nhận quyền sử dụng đất không thuộc phạm vi tiếp nhận phản ánh của tổ.",
        "Bộ phận một cửa UBND xã",
    ),
    (
        "Nội dung là tranh chấp dân sự giữa hai gia đình.",
        "Tòa án nhân dân khu vực",
    ),
];

/// `n` reports spread over the year (8,760 hours) across `hamlets` hamlets.
pub fn pilot_reports(hamlets: usize, n: usize) -> Vec<DemoReport> {
    let mut rng = ChaCha8Rng::seed_from_u64(20251201);
    let mut out = Vec::with_capacity(n);
    if hamlets == 0 {
        return out;
    }
    let year = 365.0 * 24.0;
    for i in 0..n {
        // Spread evenly with jitter, during waking hours.
        let day = ((i as f64 + rng.gen::<f64>()) / n as f64 * 365.0).floor();
        let hour = 6.0 + rng.gen::<f64>() * 15.0;
        let at_hours = (day * 24.0 + hour).min(year - 1.0);
        let place = PLACES[rng.gen_range(0..PLACES.len())];
        let fill = |t: &str, rng: &mut ChaCha8Rng| {
            t.replace("{place}", place)
                .replace("{n}", &rng.gen_range(3..9).to_string())
        };
        let roll = rng.gen::<f64>();
        let (topic, text, answer) = if roll < 0.45 {
            let (t, a) = ENVIRONMENT[rng.gen_range(0..ENVIRONMENT.len())];
            ("environment", fill(t, &mut rng), a.to_string())
        } else if roll < 0.75 {
            let (t, a) = SECURITY[rng.gen_range(0..SECURITY.len())];
            ("security", fill(t, &mut rng), a.to_string())
        } else if roll < 0.90 {
            let (t, a) = EPIDEMIC[rng.gen_range(0..EPIDEMIC.len())];
            ("epidemic", fill(t, &mut rng), a.to_string())
        } else if roll < 0.96 {
            let t = CRIME_TIP[rng.gen_range(0..CRIME_TIP.len())];
            (
                "crime_tip",
                fill(t, &mut rng),
                "Công an xã đã tiếp nhận và xác minh.".to_string(),
            )
        } else {
            let t = DISEASE_CASE[rng.gen_range(0..DISEASE_CASE.len())];
            (
                "disease_case",
                fill(t, &mut rng),
                "Trạm y tế đã đến nhà khám, hướng dẫn cách ly và theo dõi.".to_string(),
            )
        };
        let severity = match rng.gen::<f64>() {
            x if x < 0.1 || topic == "disease_case" => "urgent",
            x if x < 0.2 => "complex",
            _ => "normal",
        };
        let channel = match rng.gen::<f64>() {
            x if x < 0.5 => "member",
            x if x < 0.75 => "sms",
            _ => "web",
        };
        // The last weeks are still open; otherwise most are answered.
        let age_days = 365.0 - day;
        let f = rng.gen::<f64>();
        let fate = if age_days < 10.0 && f < 0.7 {
            Fate::Open {
                ack_after: (f < 0.5).then(|| 0.5 + rng.gen::<f64>() * 6.0),
            }
        } else if f < 0.05 {
            let (reason, refer) = REFUSALS[rng.gen_range(0..REFUSALS.len())];
            Fate::Refused {
                after: 2.0 + rng.gen::<f64>() * 20.0,
                reason: reason.into(),
                refer_to: refer.into(),
            }
        } else {
            // Most within days; about one in ten drags on past its deadline.
            let slow = rng.gen::<f64>() < 0.1;
            let ack_after = if slow {
                10.0 + rng.gen::<f64>() * 40.0
            } else {
                0.3 + rng.gen::<f64>() * 6.0
            };
            let answer_after = ack_after
                + if slow {
                    150.0 + rng.gen::<f64>() * 200.0
                } else {
                    4.0 + rng.gen::<f64>() * 90.0
                };
            Fate::Answered {
                ack_after,
                answer_after,
                answer,
                rating: (rng.gen::<f64>() < 0.6).then(|| rng.gen_range(3..=5)),
            }
        };
        out.push(DemoReport {
            hamlet: rng.gen_range(0..hamlets),
            topic,
            severity,
            channel,
            text,
            at_hours,
            fate,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_of_reports_is_deterministic_and_varied() {
        let a = pilot_reports(14, 400);
        let b = pilot_reports(14, 400);
        assert_eq!(a.len(), 400);
        assert_eq!(a[17].text, b[17].text);
        assert!(a.windows(2).all(|w| w[0].at_hours <= w[1].at_hours + 24.0));
        for topic in [
            "environment",
            "security",
            "epidemic",
            "crime_tip",
            "disease_case",
        ] {
            assert!(a.iter().any(|r| r.topic == topic), "{topic}");
        }
        assert!(a.iter().any(|r| matches!(r.fate, Fate::Refused { .. })));
        assert!(a
            .iter()
            .any(|r| matches!(r.fate, Fate::Open { ack_after: None })));
        assert!(a.iter().all(|r| r.hamlet < 14 && r.at_hours < 8760.0));
    }
}
