//! Announcements (*thông báo*) carried down to households: urgency, how a
//! text is cut into SMS parts and what it costs, and the quiet hours.

use chrono::Timelike;

use crate::calendar;
use crate::role::Role;
use crate::stored::UnknownStored;
use crate::text::fold;

/// How urgent an announcement is; decides approval, quiet hours, fallback
/// and whether it is also a CAP alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Urgency {
    Normal,
    Urgent,
    /// Skips the quiet hours; goes out unapproved only from a leader or a
    /// role the province names (`policy::sends_emergency_at_once`, the
    /// audit log says so), else its approvers are told at once by SMS.
    Emergency,
}

impl Urgency {
    pub const ALL: [Urgency; 3] = [Urgency::Normal, Urgency::Urgent, Urgency::Emergency];

    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Normal => "normal",
            Urgency::Urgent => "urgent",
            Urgency::Emergency => "emergency",
        }
    }

    pub fn parse(s: &str) -> Option<Urgency> {
        match s.trim().to_lowercase().as_str() {
            "normal" | "thuong" | "thường" | "binh thuong" | "bình thường" => {
                Some(Urgency::Normal)
            }
            "urgent" | "khan" | "khẩn" => Some(Urgency::Urgent),
            "emergency" | "khan cap" | "khẩn cấp" => Some(Urgency::Emergency),
            _ => None,
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Urgency::Normal => "Thường",
            Urgency::Urgent => "Khẩn",
            Urgency::Emergency => "Khẩn cấp",
        }
    }

    /// Hours an SMS may go unacknowledged before its household gets a
    /// visit task instead (the defaults: 24 h, 2 h when urgent).
    pub fn fallback_hours(self) -> i64 {
        match self {
            Urgency::Normal => 24,
            Urgency::Urgent | Urgency::Emergency => 2,
        }
    }
}

/// Where an announcement is: written and waiting for approval, approved
/// and waiting for its send time, planned per household (it went out), or
/// withdrawn (`cancelled`; whether it had gone out is `planned_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnouncementState {
    Pending,
    Approved,
    Planned,
    Cancelled,
}

impl AnnouncementState {
    pub const ALL: [AnnouncementState; 4] = [
        AnnouncementState::Pending,
        AnnouncementState::Approved,
        AnnouncementState::Planned,
        AnnouncementState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnnouncementState::Pending => "pending",
            AnnouncementState::Approved => "approved",
            AnnouncementState::Planned => "planned",
            AnnouncementState::Cancelled => "cancelled",
        }
    }
}

/// How an announcement reaches one household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryChannel {
    /// The household's own feed page (smartphones).
    Feed,
    Sms,
    /// A team member calls in person.
    Visit,
}

impl DeliveryChannel {
    pub const ALL: [DeliveryChannel; 3] = [
        DeliveryChannel::Feed,
        DeliveryChannel::Sms,
        DeliveryChannel::Visit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryChannel::Feed => "feed",
            DeliveryChannel::Sms => "sms",
            DeliveryChannel::Visit => "visit",
        }
    }
}

/// Where one household's delivery is: planned → sent → delivered →
/// acknowledged, or failed (with a reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    Planned,
    Sent,
    Delivered,
    Acknowledged,
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 5] = [
        DeliveryState::Planned,
        DeliveryState::Sent,
        DeliveryState::Delivered,
        DeliveryState::Acknowledged,
        DeliveryState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Planned => "planned",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Acknowledged => "acknowledged",
            DeliveryState::Failed => "failed",
        }
    }
}

/// Where a message of the SMS outbox is: queued → sending (claimed) → sent
/// (the gateway accepted it) → delivered | failed; `cancelled` when its
/// announcement was withdrawn before the gateway had it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    Queued,
    Sending,
    Sent,
    Delivered,
    Failed,
    Cancelled,
}

impl OutboxState {
    pub const ALL: [OutboxState; 6] = [
        OutboxState::Queued,
        OutboxState::Sending,
        OutboxState::Sent,
        OutboxState::Delivered,
        OutboxState::Failed,
        OutboxState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
            OutboxState::Cancelled => "cancelled",
        }
    }
}

crate::stored::stored_text!(
    Urgency => "urgency",
    AnnouncementState => "announcement state",
    DeliveryChannel => "delivery channel",
    DeliveryState => "delivery state",
    OutboxState => "outbox state",
);
crate::stored::serde_as_str!(
    Urgency,
    AnnouncementState,
    DeliveryChannel,
    DeliveryState,
    OutboxState
);

/// Longest announcement text: a leaflet's worth, not a document.
pub const MAX_BODY_CHARS: usize = 4000;
/// Longest title.
pub const MAX_TITLE_CHARS: usize = 200;

/// How an SMS text travels: GSM 7-bit (160 characters, 153 a part when
/// concatenated) or UCS-2 (70, 67 a part), which Vietnamese needs for
/// its diacritics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gsm7,
    Ucs2,
}

/// What a text costs as SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsPlan {
    /// The text as it will be sent (diacritics removed for GSM 7-bit).
    pub text: String,
    pub coding: Coding,
    /// Parts (messages billed) per recipient.
    pub parts: usize,
}

/// Characters of the GSM 03.38 default alphabet (one septet each).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters of its extension table (two septets each: escape + char).
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// Septets `text` takes in GSM 7-bit, or `None` if a character has no
/// GSM encoding.
pub fn gsm7_septets(text: &str) -> Option<usize> {
    text.chars().try_fold(0usize, |n, c| {
        if GSM_BASIC.contains(c) {
            Some(n + 1)
        } else if GSM_EXTENDED.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    })
}

/// The text without diacritics and with typographic marks made plain, for
/// a sender who chose GSM 7-bit to cut the cost. Characters GSM still
/// cannot carry become '?', as a handset would show them.
pub fn to_gsm7(text: &str) -> String {
    // `fold` lowercases; keep the case by folding character by character.
    text.chars()
        .map(|c| {
            let plain = match c {
                'đ' => "d".to_string(),
                'Đ' => "D".to_string(),
                '“' | '”' | '„' => "\"".to_string(),
                '‘' | '’' => "'".to_string(),
                '–' | '—' => "-".to_string(),
                '…' => "...".to_string(),
                c if c.is_ascii() => c.to_string(),
                c => {
                    let f = fold(&c.to_string());
                    if c.is_uppercase() {
                        f.to_uppercase()
                    } else {
                        f
                    }
                }
            };
            plain
                .chars()
                .map(|p| {
                    if gsm7_septets(&p.to_string()).is_some() {
                        p
                    } else {
                        '?'
                    }
                })
                .collect::<String>()
        })
        .collect()
}

/// How `text` is sent and in how many parts. `plain` is the sender's
/// choice of GSM 7-bit without diacritics; a text GSM can carry as it is
/// goes as GSM 7-bit anyway.
pub fn sms_plan(text: &str, plain: bool) -> SmsPlan {
    let text = if plain {
        to_gsm7(text)
    } else {
        text.to_string()
    };
    match gsm7_septets(&text) {
        Some(septets) => SmsPlan {
            parts: if septets <= 160 {
                1
            } else {
                septets.div_ceil(153)
            },
            text,
            coding: Coding::Gsm7,
        },
        None => {
            // UCS-2 counts UTF-16 units: a character outside the BMP is two.
            let units = text.encode_utf16().count();
            SmsPlan {
                parts: if units <= 70 { 1 } else { units.div_ceil(67) },
                text,
                coding: Coding::Ucs2,
            }
        }
    }
}

/// No SMS between 21:00 and 06:00 Vietnam time, except emergencies.
pub const QUIET_FROM_HOUR: u32 = 21;
pub const QUIET_TO_HOUR: u32 = 6;

/// Whether `unix` falls in the quiet hours.
pub fn in_quiet_hours(unix: i64) -> bool {
    let h = calendar::to_local(unix).hour();
    !(QUIET_TO_HOUR..QUIET_FROM_HOUR).contains(&h)
}

/// The first moment at or after `unix` outside the quiet hours.
pub fn after_quiet_hours(unix: i64) -> i64 {
    if !in_quiet_hours(unix) {
        return unix;
    }
    let local = calendar::to_local(unix);
    let mut day = local.date();
    if local.hour() >= QUIET_FROM_HOUR {
        day = day.succ_opt().unwrap_or(day);
    }
    calendar::from_local(day.and_hms_opt(QUIET_TO_HOUR, 0, 0).unwrap_or(local))
}

/// Who approves a province's announcements before they are sent (set per
/// province; an emergency may always skip approval).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Approval {
    /// A leader of the writing unit or of a unit above; a leader's own
    /// announcement is approved as it is written.
    #[default]
    Leader,
    /// Only a leader of a unit above the writing unit.
    Above,
    /// Approved as written.
    None,
}

impl Approval {
    pub const ALL: [Approval; 3] = [Approval::Leader, Approval::Above, Approval::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Leader => "leader",
            Approval::Above => "above",
            Approval::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Approval> {
        Approval::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Approval::Leader => "Lãnh đạo đơn vị viết thông báo (hoặc cấp trên) duyệt",
            Approval::Above => "Lãnh đạo cấp trên của đơn vị viết thông báo duyệt",
            Approval::None => "Không cần duyệt",
        }
    }
}

/// A province's rules for its announcements (`announcement_settings`; no
/// row: the defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnouncementRules {
    /// Who approves.
    pub approval: Approval,
    /// The roles the province named to send emergencies without approval
    /// (besides a unit's leaders and the administrator); none by default.
    pub emergency_roles: Vec<Role>,
}

/// The roles as the database keeps them: their stored names,
/// comma-separated (`""`: none), each once, in the table's order.
pub fn roles_to_stored(roles: &[Role]) -> String {
    Role::ALL
        .into_iter()
        .filter(|r| roles.contains(r))
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// [`roles_to_stored`] read back, strictly: an unknown name fails the read.
pub fn roles_from_stored(s: &str) -> Result<Vec<Role>, UnknownStored> {
    s.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            Role::ALL
                .into_iter()
                .find(|r| r.as_str() == n)
                .ok_or(UnknownStored {
                    what: "role",
                    value: n.to_string(),
                })
        })
        .collect()
}

/// Characters of the title an approval request carries.
const REQUEST_TITLE_CHARS: usize = 60;

/// The SMS that tells a leader an emergency waits for their approval:
/// plain text without diacritics (one GSM 7-bit part), the title cut to
/// about 60 characters, and the page where it is approved.
pub fn approval_request_sms(announcement_id: i64, title: &str) -> String {
    let plain = to_gsm7(title);
    let plain = plain.trim();
    let short: String = if plain.chars().count() > REQUEST_TITLE_CHARS {
        let cut: String = plain.chars().take(REQUEST_TITLE_CHARS - 3).collect();
        format!("{}...", cut.trim_end())
    } else {
        plain.to_string()
    };
    format!("Thong bao KHAN cho duyet: {short}. Duyet tai /announcements/{announcement_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_request_is_one_plain_part() {
        let sms = approval_request_sms(
            42,
            "Lũ quét & sạt lở đất – sơ tán ngay các hộ ven đê sông Thương, thôn Mai Hoàng",
        );
        assert!(
            sms.starts_with("Thong bao KHAN cho duyet: Lu quet & sat lo dat - so tan ngay"),
            "{sms}"
        );
        assert!(sms.ends_with("... Duyet tai /announcements/42"), "{sms}");
        let plan = sms_plan(&sms, false);
        assert_eq!((plan.coding, plan.parts), (Coding::Gsm7, 1), "{sms}");
        assert_eq!(
            approval_request_sms(7, "Bão số 5"),
            "Thong bao KHAN cho duyet: Bao so 5. Duyet tai /announcements/7"
        );
    }

    #[test]
    fn emergency_roles_are_stored_by_name() {
        let roles = [Role::TeamLeader, Role::Supervisor, Role::Supervisor];
        assert_eq!(roles_to_stored(&roles), "supervisor,team_leader");
        assert_eq!(
            roles_from_stored("supervisor,team_leader"),
            Ok(vec![Role::Supervisor, Role::TeamLeader])
        );
        assert_eq!(roles_from_stored(""), Ok(vec![]));
        assert!(roles_from_stored("supervisor,boss").is_err());
    }

    #[test]
    fn vietnamese_is_ucs2_and_parts_follow_the_limits() {
        let p = sms_plan("Họp thôn lúc 19 giờ", false);
        assert_eq!((p.coding, p.parts), (Coding::Ucs2, 1));
        let seventy = "ă".repeat(70);
        assert_eq!(sms_plan(&seventy, false).parts, 1);
        assert_eq!(sms_plan(&format!("{seventy}ă"), false).parts, 2);
        assert_eq!(sms_plan(&"ă".repeat(134), false).parts, 2);
        assert_eq!(sms_plan(&"ă".repeat(135), false).parts, 3);
    }

    #[test]
    fn plain_text_is_gsm7_and_counts_escapes_twice() {
        let p = sms_plan("Hop thon luc 19 gio", false);
        assert_eq!((p.coding, p.parts), (Coding::Gsm7, 1));
        assert_eq!(sms_plan(&"a".repeat(160), false).parts, 1);
        assert_eq!(sms_plan(&"a".repeat(161), false).parts, 2);
        assert_eq!(sms_plan(&"a".repeat(306), false).parts, 2);
        assert_eq!(sms_plan(&"a".repeat(307), false).parts, 3);
        // '€' takes two septets: 80 of them fill one message, 81 do not.
        assert_eq!(sms_plan(&"€".repeat(80), false).parts, 1);
        assert_eq!(sms_plan(&"€".repeat(81), false).parts, 2);
    }

    #[test]
    fn the_sender_may_drop_diacritics() {
        let p = sms_plan("Đường Hồ Chí Minh – “ngập” sau mưa…", true);
        assert_eq!(p.text, "Duong Ho Chi Minh - \"ngap\" sau mua...");
        assert_eq!(p.coding, Coding::Gsm7);
        assert_eq!(to_gsm7("Ấp Ơ Ư ữ ỹ 中"), "Ap O U u y ?");
    }

    #[test]
    fn quiet_hours_are_vietnam_evenings_and_nights() {
        let at = |h, m| {
            calendar::from_local(
                chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
                    .unwrap()
                    .and_hms_opt(h, m, 0)
                    .unwrap(),
            )
        };
        assert!(!in_quiet_hours(at(6, 0)));
        assert!(!in_quiet_hours(at(20, 59)));
        assert!(in_quiet_hours(at(21, 0)));
        assert!(in_quiet_hours(at(5, 59)));
        assert_eq!(after_quiet_hours(at(22, 30)), at(6, 0) + 86400);
        assert_eq!(after_quiet_hours(at(3, 0)), at(6, 0));
        assert_eq!(after_quiet_hours(at(12, 0)), at(12, 0));
    }

    #[test]
    fn urgency_words() {
        for u in Urgency::ALL {
            assert_eq!(Urgency::parse(u.as_str()), Some(u));
        }
        assert_eq!(Urgency::parse("Khẩn cấp"), Some(Urgency::Emergency));
        assert_eq!(Urgency::parse("soon"), None);
    }
}
