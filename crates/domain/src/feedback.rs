//! Residents' feedback (phản ánh): tracking codes, the states an item goes
//! through, how it arrived, and the SMS command syntax.
//!
//! No randomness here: callers pass random bytes for a new tracking code.

use unicode_normalization::char::is_combining_mark;

use crate::text::{choice_key, fold, nfc};

// ---------------------------------------------------------------------------
// Tracking codes
// ---------------------------------------------------------------------------

/// Symbols of a tracking code: digits and uppercase letters without the
/// look-alikes 0/O and 1/I, which people misread when copying a code from
/// paper or a phone screen. 32 symbols, so each carries exactly 5 bits.
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Symbols in a tracking code.
const CODE_LEN: usize = 8;

/// The code a resident is given to follow a report: 8 symbols of
/// [`CODE_ALPHABET`], shown as "XXXX-XXXX".
///
/// Stored (and serialized) in canonical form: 8 uppercase symbols, no dash.
/// Deserializing goes through [`TrackingCode::parse`], so an invalid code
/// never gets in through an API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TrackingCode(String);

impl TrackingCode {
    /// 40 random bits → 8 symbols of 5 bits, most significant first.
    ///
    /// 2^40 codes make a collision rare but not impossible; the store keeps
    /// codes unique and the caller retries with fresh bytes.
    pub fn from_random(bytes: [u8; 5]) -> TrackingCode {
        let bits = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let code = (0..CODE_LEN)
            .map(|i| {
                let shift = 5 * (CODE_LEN - 1 - i);
                char::from(CODE_ALPHABET[((bits >> shift) & 0x1f) as usize])
            })
            .collect();
        TrackingCode(code)
    }

    /// A code as a person typed it: any case, spaces and dashes anywhere.
    /// `None` unless exactly 8 symbols of the alphabet remain; a typed
    /// O/0/I/1 is refused since no real code contains one.
    pub fn parse(typed: &str) -> Option<TrackingCode> {
        let mut code = String::with_capacity(CODE_LEN);
        for c in typed.chars() {
            if c.is_whitespace() || is_dash(c) {
                continue;
            }
            let upper = c.to_ascii_uppercase();
            if !upper.is_ascii() || !CODE_ALPHABET.contains(&(upper as u8)) {
                return None;
            }
            if code.len() == CODE_LEN {
                return None;
            }
            code.push(upper);
        }
        (code.len() == CODE_LEN).then_some(TrackingCode(code))
    }

    /// Canonical form, e.g. "K7Q2M9XA".
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to people, e.g. "K7Q2-M9XA": two halves are easier
    /// to read out over the phone and to copy.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..CODE_LEN / 2], &self.0[CODE_LEN / 2..])
    }
}

impl std::fmt::Display for TrackingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

impl<'de> serde::Deserialize<'de> for TrackingCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let typed = String::deserialize(deserializer)?;
        TrackingCode::parse(&typed).ok_or_else(|| serde::de::Error::custom("invalid tracking code"))
    }
}

/// Phone keyboards and autocorrect turn "-" into other dashes.
fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{2011}' | '\u{2013}' | '\u{2014}')
}

// ---------------------------------------------------------------------------
// Feedback attributes
// ---------------------------------------------------------------------------
//
// `parse` returns `Option` rather than `Result<_, FieldError>` like the
// household enums: `FieldError` has no feedback variants yet.

/// How quickly an item must be answered; decides its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Normal,
    Urgent,
    Complex,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Normal, Severity::Urgent, Severity::Complex];

    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Normal => "normal",
            Severity::Urgent => "urgent",
            Severity::Complex => "complex",
        }
    }

    /// Accepts `as_str`, the labels and common Vietnamese wordings, with or
    /// without diacritics.
    pub fn parse(s: &str) -> Option<Self> {
        match choice_key(s).as_str() {
            "normal" | "thong thuong" | "binh thuong" => Some(Severity::Normal),
            "urgent" | "khan cap" | "khan" | "gap" => Some(Severity::Urgent),
            "complex" | "phuc tap" => Some(Severity::Complex),
            _ => None,
        }
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            Severity::Normal => "Thông thường",
            Severity::Urgent => "Khẩn cấp",
            Severity::Complex => "Phức tạp",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            Severity::Normal => "Normal",
            Severity::Urgent => "Urgent",
            Severity::Complex => "Complex",
        }
    }
}

/// Where an item is in its handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackState {
    Received,
    Acknowledged,
    InProgress,
    Answered,
    Closed,
    Refused,
    Reopened,
}

impl FeedbackState {
    pub const ALL: [FeedbackState; 7] = [
        FeedbackState::Received,
        FeedbackState::Acknowledged,
        FeedbackState::InProgress,
        FeedbackState::Answered,
        FeedbackState::Closed,
        FeedbackState::Refused,
        FeedbackState::Reopened,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            FeedbackState::Received => "received",
            FeedbackState::Acknowledged => "acknowledged",
            FeedbackState::InProgress => "in_progress",
            FeedbackState::Answered => "answered",
            FeedbackState::Closed => "closed",
            FeedbackState::Refused => "refused",
            FeedbackState::Reopened => "reopened",
        }
    }

    /// Accepts `as_str` (also with spaces), the labels and their short
    /// forms, with or without diacritics.
    pub fn parse(s: &str) -> Option<Self> {
        match choice_key(s).as_str() {
            "received" | "da tiep nhan" | "tiep nhan" => Some(FeedbackState::Received),
            "acknowledged" | "da xac nhan" | "xac nhan" => Some(FeedbackState::Acknowledged),
            "in progress" | "dang xu ly" | "xu ly" => Some(FeedbackState::InProgress),
            "answered" | "da tra loi" | "tra loi" => Some(FeedbackState::Answered),
            "closed" | "da dong" | "dong" => Some(FeedbackState::Closed),
            "refused" | "tu choi" | "da tu choi" => Some(FeedbackState::Refused),
            "reopened" | "mo lai" | "da mo lai" => Some(FeedbackState::Reopened),
            _ => None,
        }
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            FeedbackState::Received => "Đã tiếp nhận",
            FeedbackState::Acknowledged => "Đã xác nhận",
            FeedbackState::InProgress => "Đang xử lý",
            FeedbackState::Answered => "Đã trả lời",
            FeedbackState::Closed => "Đã đóng",
            FeedbackState::Refused => "Từ chối",
            FeedbackState::Reopened => "Mở lại",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            FeedbackState::Received => "Received",
            FeedbackState::Acknowledged => "Acknowledged",
            FeedbackState::InProgress => "In progress",
            FeedbackState::Answered => "Answered",
            FeedbackState::Closed => "Closed",
            FeedbackState::Refused => "Refused",
            FeedbackState::Reopened => "Reopened",
        }
    }

    /// Still waiting for an answer: counts against deadlines.
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            FeedbackState::Received
                | FeedbackState::Acknowledged
                | FeedbackState::InProgress
                | FeedbackState::Reopened
        )
    }

    /// Whether handling may go from `self` to `next`. A refusal is final (the
    /// resident is told where to turn instead); an answer can be reopened
    /// when the resident is not satisfied.
    pub fn can_move_to(self, next: FeedbackState) -> bool {
        use FeedbackState::*;
        match self {
            Received => matches!(next, Acknowledged | InProgress | Refused),
            Acknowledged => matches!(next, InProgress | Answered | Refused),
            InProgress => matches!(next, Answered | Refused),
            Reopened => matches!(next, InProgress | Answered | Refused),
            Answered => matches!(next, Closed | Reopened),
            Closed => matches!(next, Reopened),
            Refused => false,
        }
    }

    /// Open311 GeoReport v2 knows only "open" and "closed".
    pub fn open311_status(&self) -> &'static str {
        if self.is_open() {
            "open"
        } else {
            "closed"
        }
    }
}

/// How an item reached the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    Member,
    Sms,
    Api,
    Open311,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Web,
        Channel::Member,
        Channel::Sms,
        Channel::Api,
        Channel::Open311,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Member => "member",
            Channel::Sms => "sms",
            Channel::Api => "api",
            Channel::Open311 => "open311",
        }
    }

    /// Accepts `as_str`, the labels and short forms, with or without
    /// diacritics.
    pub fn parse(s: &str) -> Option<Self> {
        match choice_key(s).as_str() {
            "web" | "trang web" | "website" => Some(Channel::Web),
            "member" | "thanh vien to nhan" | "thanh vien" | "via team member" | "team member" => {
                Some(Channel::Member)
            }
            "sms" | "tin nhan sms" | "tin nhan" => Some(Channel::Sms),
            "api" => Some(Channel::Api),
            "open311" | "open 311" => Some(Channel::Open311),
            _ => None,
        }
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            Channel::Web => "Trang web",
            Channel::Member => "Thành viên tổ nhận",
            Channel::Sms => "Tin nhắn SMS",
            Channel::Api => "API",
            Channel::Open311 => "Open311",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            Channel::Web => "Website",
            Channel::Member => "Via team member",
            Channel::Sms => "SMS",
            Channel::Api => "API",
            Channel::Open311 => "Open311",
        }
    }
}

/// How a team member heard the concern they relay for a resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayMethod {
    HomeVisit,
    PhoneCall,
    GroupChat,
    Meeting,
}

impl RelayMethod {
    pub const ALL: [RelayMethod; 4] = [
        RelayMethod::HomeVisit,
        RelayMethod::PhoneCall,
        RelayMethod::GroupChat,
        RelayMethod::Meeting,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            RelayMethod::HomeVisit => "home_visit",
            RelayMethod::PhoneCall => "phone_call",
            RelayMethod::GroupChat => "group_chat",
            RelayMethod::Meeting => "meeting",
        }
    }

    /// Accepts `as_str`, the labels and everyday words ("đến nhà", "gọi
    /// điện", "zalo", "họp"), with or without diacritics.
    pub fn parse(s: &str) -> Option<Self> {
        // The Vietnamese labels hold a slash ("Nhóm Zalo/nhóm chat").
        match choice_key(&s.replace('/', " ")).as_str() {
            "home visit" | "den nha" | "tham nha" | "tai nha" => Some(RelayMethod::HomeVisit),
            "phone call" | "goi dien" | "goi dien thoai" | "dien thoai" | "phone" => {
                Some(RelayMethod::PhoneCall)
            }
            "group chat" | "nhom zalo nhom chat" | "nhom zalo" | "nhom chat" | "zalo" | "chat" => {
                Some(RelayMethod::GroupChat)
            }
            "meeting" | "hop dan hop thon" | "hop" | "hop dan" | "hop thon" | "hop to" => {
                Some(RelayMethod::Meeting)
            }
            _ => None,
        }
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            RelayMethod::HomeVisit => "Đến nhà",
            RelayMethod::PhoneCall => "Gọi điện",
            RelayMethod::GroupChat => "Nhóm Zalo/nhóm chat",
            RelayMethod::Meeting => "Họp dân/họp thôn",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            RelayMethod::HomeVisit => "Home visit",
            RelayMethod::PhoneCall => "Phone call",
            RelayMethod::GroupChat => "Group chat",
            RelayMethod::Meeting => "Meeting",
        }
    }
}

/// How much of a topic's reports the public sees (a setting of the
/// province per topic). Confidential topics are never published at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Publicity {
    /// Listed and shown in full.
    Public,
    /// Listed with state, topic and hamlet; no description, answer text,
    /// photo or place.
    NoText,
    /// Not listed; its status page (for whoever holds the code) shows
    /// the state only.
    Private,
}

impl Publicity {
    pub const ALL: [Publicity; 3] = [Publicity::Public, Publicity::NoText, Publicity::Private];

    pub fn as_str(&self) -> &'static str {
        match self {
            Publicity::Public => "public",
            Publicity::NoText => "no_text",
            Publicity::Private => "private",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match choice_key(s).replace(' ', "_").as_str() {
            "public" | "cong_khai" => Some(Publicity::Public),
            "no_text" | "public_without_text" | "khong_noi_dung" => Some(Publicity::NoText),
            "private" | "khong_cong_khai" | "rieng" => Some(Publicity::Private),
            _ => None,
        }
    }

    /// The stricter of the topic's setting and what the item itself needs:
    /// a report relayed for a resident who did not consent to be named is
    /// never published with its text.
    pub fn of_item(topic: Publicity, relayed_without_consent: bool) -> Publicity {
        if relayed_without_consent {
            topic.max(Publicity::NoText)
        } else {
            topic
        }
    }

    /// Whether the description, answer and photos are public.
    pub fn shows_text(&self) -> bool {
        *self == Publicity::Public
    }
}

crate::stored::stored_text!(Publicity => "topic publicity");
crate::stored::serde_as_str!(Publicity);

// ---------------------------------------------------------------------------
// SMS commands
// ---------------------------------------------------------------------------
//
// Words are runs of letters and digits; everything else (spaces,
// punctuation, emoji) separates them. Keywords and topics are compared on
// folded words, so "Pa:", "P.A", "phản ánh" and "phan anh" read the same.

/// Longer messages are refused, counted in characters (a Vietnamese SMS is
/// UCS-2, so bytes say nothing about what the person typed).
pub const SMS_MAX_CHARS: usize = 640;

/// What an incoming SMS asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsCommand {
    /// "PA <topic> <text>": a new report (phản ánh). The topic is not known
    /// here; match it with [`report_topic`] (or [`split_topic`] and
    /// [`text_after_words`]).
    Report {
        /// The words after the keyword, folded, in order.
        words: Vec<String>,
        /// The text after the keyword as typed (diacritics kept), cleaned
        /// and trimmed; `words` are its words.
        text: String,
    },
    /// "TL <code> <text>": a reply (trả lời) to an existing report.
    Reply { code: TrackingCode, text: String },
    /// "DG <code> <1-5>": the reporter rates (đánh giá) the answer.
    Rate { code: TrackingCode, stars: i32 },
    /// "OK" / "Đã nhận" alone: acknowledges an announcement.
    Ack,
    /// Anything else; `why` picks the help reply.
    Unknown { why: UnknownSms },
}

/// Why an SMS was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnknownSms {
    /// Nothing readable: blank, or only emoji and punctuation.
    Empty,
    /// Does not start with PA or TL.
    NoKeyword,
    /// PA with no topic and text.
    ReportWithoutText,
    /// PA whose first words are no topic's keywords (found by
    /// [`report_topic`], not by [`parse_sms`]).
    UnknownTopic,
    /// TL without a valid tracking code after it.
    ReplyBadCode,
    /// TL and a code but nothing to say.
    ReplyWithoutText,
    /// More than [`SMS_MAX_CHARS`] characters.
    TooLong,
    /// DG without a valid code, or without 1 to 5 stars after it.
    RateBadForm,
}

impl UnknownSms {
    /// Stable identifier for logs and events.
    pub fn as_str(&self) -> &'static str {
        match self {
            UnknownSms::Empty => "empty",
            UnknownSms::NoKeyword => "no_keyword",
            UnknownSms::ReportWithoutText => "report_without_text",
            UnknownSms::UnknownTopic => "unknown_topic",
            UnknownSms::ReplyBadCode => "reply_bad_code",
            UnknownSms::ReplyWithoutText => "reply_without_text",
            UnknownSms::TooLong => "too_long",
            UnknownSms::RateBadForm => "rate_bad_form",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    Report,
    Reply,
    Rate,
}

/// Command keywords as folded words. "p a"/"t l" come from "P.A"/"T.L".
const KEYWORDS: &[(&[&str], Keyword)] = &[
    (&["pa"], Keyword::Report),
    (&["p", "a"], Keyword::Report),
    (&["phan", "anh"], Keyword::Report),
    (&["phananh"], Keyword::Report),
    (&["tl"], Keyword::Reply),
    (&["t", "l"], Keyword::Reply),
    (&["tra", "loi"], Keyword::Reply),
    (&["traloi"], Keyword::Reply),
    (&["dg"], Keyword::Rate),
    (&["d", "g"], Keyword::Rate),
    (&["danh", "gia"], Keyword::Rate),
    (&["danhgia"], Keyword::Rate),
];

/// Whole messages (folded words) that acknowledge an announcement.
const ACK_FORMS: &[&str] = &["ok", "oke", "okay", "da nhan", "danhan"];

/// Reads an incoming SMS. Control and invisible characters are dropped and
/// whitespace collapsed before anything else, so `text` fields are clean.
pub fn parse_sms(text: &str) -> SmsCommand {
    let unknown = |why| SmsCommand::Unknown { why };
    let cleaned = clean_sms(text);
    if cleaned.chars().count() > SMS_MAX_CHARS {
        return unknown(UnknownSms::TooLong);
    }
    let spans = word_spans(&cleaned);
    if spans.is_empty() {
        return unknown(UnknownSms::Empty);
    }
    let head: Vec<String> = spans
        .iter()
        .take(2)
        .map(|&(start, end)| fold(&cleaned[start..end]))
        .collect();
    if spans.len() <= head.len() && ACK_FORMS.contains(&head.join(" ").as_str()) {
        return SmsCommand::Ack;
    }
    let Some((keyword, used)) = KEYWORDS.iter().find_map(|(words, keyword)| {
        let matches = words.len() <= head.len() && words.iter().zip(&head).all(|(k, w)| k == w);
        matches.then_some((*keyword, words.len()))
    }) else {
        return unknown(UnknownSms::NoKeyword);
    };
    let rest = trim_separators(&cleaned[spans[used - 1].1..]);
    match keyword {
        Keyword::Report => {
            let words: Vec<String> = word_spans(rest)
                .into_iter()
                .map(|(start, end)| fold(&rest[start..end]))
                .collect();
            // A topic and at least one word of text.
            if words.len() < 2 {
                return unknown(UnknownSms::ReportWithoutText);
            }
            SmsCommand::Report {
                words,
                text: rest.to_owned(),
            }
        }
        Keyword::Reply => {
            let Some((code, code_end)) = leading_code(rest) else {
                return unknown(UnknownSms::ReplyBadCode);
            };
            let text = trim_separators(&rest[code_end..]);
            if word_spans(text).is_empty() {
                return unknown(UnknownSms::ReplyWithoutText);
            }
            SmsCommand::Reply {
                code,
                text: text.to_owned(),
            }
        }
        Keyword::Rate => {
            let bad = || unknown(UnknownSms::RateBadForm);
            let Some((code, code_end)) = leading_code(rest) else {
                return bad();
            };
            // The stars: one digit 1–5, alone or followed by words ("5 sao").
            let after = trim_separators(&rest[code_end..]);
            let first = word_spans(after)
                .first()
                .map(|&(start, end)| &after[start..end]);
            match first.and_then(|w| w.parse::<i32>().ok()) {
                Some(stars @ 1..=5) => SmsCommand::Rate { code, stars },
                _ => bad(),
            }
        }
    }
}

/// The topic whose keyword matches the most leading `words`, and how many
/// words it used. Keywords are folded here too and may have any number of
/// words ("dich", "dich benh", "an ninh trat tu"); blank ones are skipped,
/// and on a tie the first in `keywords` wins.
pub fn split_topic<T: Clone>(words: &[String], keywords: &[(&str, T)]) -> Option<(T, usize)> {
    let mut best: Option<(&T, usize)> = None;
    for (keyword, topic) in keywords {
        let folded = fold(keyword);
        let kw_words: Vec<&str> = word_spans(&folded)
            .into_iter()
            .map(|(start, end)| &folded[start..end])
            .collect();
        let n = kw_words.len();
        let longer = best.is_none_or(|(_, used)| n > used);
        if n > 0
            && longer
            && n <= words.len()
            && kw_words.iter().zip(words).all(|(k, w)| *k == w.as_str())
        {
            best = Some((topic, n));
        }
    }
    best.map(|(topic, n)| (topic.clone(), n))
}

/// `original` without its first `n` words (as [`SmsCommand::Report`]
/// counts them) and the separators after them; "" if it has fewer words.
pub fn text_after_words(original: &str, n: usize) -> &str {
    if n == 0 {
        return trim_separators(original);
    }
    match word_spans(original).get(n - 1) {
        Some(&(_, end)) => trim_separators(&original[end..]),
        None => "",
    }
}

/// Resolves a report's topic: the matched topic and the report's text after
/// the topic words. `UnknownTopic` when no keyword matches,
/// `ReportWithoutText` when nothing is left after the topic.
pub fn report_topic<'a, T: Clone>(
    words: &[String],
    text: &'a str,
    keywords: &[(&str, T)],
) -> Result<(T, &'a str), UnknownSms> {
    let (topic, used) = split_topic(words, keywords).ok_or(UnknownSms::UnknownTopic)?;
    let rest = text_after_words(text, used);
    if word_spans(rest).is_empty() {
        return Err(UnknownSms::ReportWithoutText);
    }
    Ok((topic, rest))
}

/// The topics named in help replies: the ones every province has.
const HELP_TOPICS: &str = "Chu de: an ninh, moi truong, dich benh";

/// The reply to a message that was not understood: Vietnamese without
/// diacritics, so it goes out as one GSM 7-bit SMS (at most 160
/// characters), saying what was wrong and showing the right format.
pub fn sms_help(why: &UnknownSms) -> String {
    match why {
        UnknownSms::Empty | UnknownSms::NoKeyword => format!(
            "Sai cu phap. Gui: PA <chu de> <noi dung> de phan anh, hoac TL <ma> <noi dung> de tra loi. {HELP_TOPICS}"
        ),
        UnknownSms::ReportWithoutText => format!(
            "Thieu noi dung. Gui: PA <chu de> <noi dung>, vd: PA moi truong rac thai o cong lang. {HELP_TOPICS}"
        ),
        UnknownSms::UnknownTopic => format!(
            "Khong ro chu de. Gui: PA <chu de> <noi dung>, vd: PA an ninh co nguoi la. {HELP_TOPICS}"
        ),
        UnknownSms::ReplyBadCode => {
            "Sai ma phan anh. Gui: TL <ma 8 ky tu> <noi dung>, vd: TL K7Q2-M9XA da sua xong chua"
                .to_owned()
        }
        UnknownSms::ReplyWithoutText => {
            "Thieu noi dung. Gui: TL <ma> <noi dung>, vd: TL K7Q2-M9XA da sua xong chua".to_owned()
        }
        UnknownSms::RateBadForm => {
            "Sai cu phap. Gui: DG <ma> <so sao tu 1 den 5>, vd: DG K7Q2-M9XA 5".to_owned()
        }
        UnknownSms::TooLong => format!(
            "Tin nhan qua dai (toi da {SMS_MAX_CHARS} ky tu). Hay gui ngan gon: PA <chu de> <noi dung> hoac TL <ma> <noi dung>"
        ),
    }
}

/// NFC, control and invisible characters dropped, whitespace runs collapsed
/// to one space, trimmed. Gateways and phones add stray CR/LF, NUL and
/// zero-width spaces that must not end up in a stored report.
fn clean_sms(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() || matches!(c, '\u{200b}' | '\u{2060}' | '\u{feff}') {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    // After dropping, so a control character between a letter and its
    // mark does not keep them apart.
    nfc(&out)
}

/// Byte spans of the words of `s`: a letter or digit followed by letters,
/// digits and combining marks (so NFD text stays one word).
fn word_spans(s: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        let in_word = c.is_alphanumeric() || (start.is_some() && is_combining_mark(c));
        match (in_word, start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                spans.push((st, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(st) = start {
        spans.push((st, s.len()));
    }
    spans
}

/// Drops what people put between a keyword, code or topic and the text
/// ("PA: …", "TL K7Q2-M9XA - …"), and trailing whitespace. Opening quotes
/// and emoji are part of the text and stay.
fn trim_separators(s: &str) -> &str {
    s.trim_start_matches(|c: char| {
        c.is_whitespace()
            || is_dash(c)
            || matches!(c, ':' | ',' | '.' | ';' | '/' | '|' | '=' | '>')
    })
    .trim_end()
}

/// A tracking code at the start of `s`, as one word ("K7Q2M9XA") or two
/// halves joined by spaces or dashes ("K7Q2-M9XA", "k7q2 m9xa"), and the
/// byte offset where it ends.
fn leading_code(s: &str) -> Option<(TrackingCode, usize)> {
    let spans = word_spans(s);
    let &(start, first_end) = spans.first()?;
    let half = CODE_LEN / 2;
    let end = match spans.get(1) {
        _ if first_end - start == CODE_LEN => first_end,
        Some(&(second_start, second_end))
            if first_end - start == half
                && second_end - second_start == half
                && s[first_end..second_start]
                    .chars()
                    .all(|c| c.is_whitespace() || is_dash(c)) =>
        {
            second_end
        }
        _ => return None,
    };
    // Byte lengths above are a pre-check; `parse` rejects non-ASCII.
    TrackingCode::parse(&s[start..end]).map(|code| (code, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::Deserialize;

    fn code(s: &str) -> TrackingCode {
        TrackingCode::parse(s).expect("valid code")
    }

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| (*w).to_owned()).collect()
    }

    fn unknown(why: UnknownSms) -> SmsCommand {
        SmsCommand::Unknown { why }
    }

    // --- Tracking codes ---------------------------------------------------

    #[test]
    fn code_alphabet_has_no_look_alikes() {
        assert_eq!(CODE_ALPHABET.len(), 32);
        for c in b"0O1I" {
            assert!(!CODE_ALPHABET.contains(c), "{}", char::from(*c));
        }
        let mut sorted = CODE_ALPHABET.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), 32);
    }

    #[test]
    fn code_from_random_is_deterministic() {
        // 00001 00010 00011 00100 00101 00110 00111 01000 → symbols 1..=8.
        let bytes = [0x08, 0x86, 0x42, 0x98, 0xe8];
        assert_eq!(TrackingCode::from_random(bytes).as_str(), "3456789A");
        assert_eq!(
            TrackingCode::from_random(bytes),
            TrackingCode::from_random(bytes)
        );
        assert_eq!(TrackingCode::from_random([0; 5]).as_str(), "22222222");
        assert_eq!(TrackingCode::from_random([0xff; 5]).as_str(), "ZZZZZZZZ");
        // Each byte matters.
        for i in 0..5 {
            let mut other = bytes;
            other[i] ^= 1;
            assert_ne!(
                TrackingCode::from_random(other),
                TrackingCode::from_random(bytes)
            );
        }
    }

    #[test]
    fn code_from_random_uses_only_the_alphabet() {
        for seed in 0u32..2000 {
            let x = seed.wrapping_mul(2_654_435_761);
            let bytes = [
                x as u8,
                (x >> 8) as u8,
                (x >> 16) as u8,
                (x >> 24) as u8,
                seed as u8,
            ];
            let c = TrackingCode::from_random(bytes);
            assert_eq!(c.as_str().len(), 8);
            assert!(
                c.as_str().bytes().all(|b| CODE_ALPHABET.contains(&b)),
                "{c}"
            );
            assert_eq!(TrackingCode::parse(c.as_str()), Some(c.clone()));
            assert_eq!(TrackingCode::parse(&c.display()), Some(c));
        }
    }

    #[test]
    fn code_parse_accepts_typed_forms() {
        let expected = TrackingCode("K7Q2M9XA".to_owned());
        for typed in [
            "k7q2-m9xa",
            " K7Q2 M9XA ",
            "K7Q2M9XA",
            "k7Q2 - m9Xa",
            "K7Q2\u{2013}M9XA",
        ] {
            assert_eq!(
                TrackingCode::parse(typed),
                Some(expected.clone()),
                "{typed}"
            );
        }
    }

    #[test]
    fn code_parse_rejects_wrong_length_and_look_alikes() {
        for typed in [
            "",
            "K7Q2-M9X",
            "K7Q2-M9XAB",
            "K7Q2-M9XO",
            "K7Q2-M9X0",
            "K7Q2-M9XI",
            "K7Q2-M9X1",
            "k7q2-m9xo",
            "K7Q2_M9XA",
            "K7Q2-M9XÀ",
            "----",
        ] {
            assert_eq!(TrackingCode::parse(typed), None, "{typed}");
        }
    }

    #[test]
    fn code_display_has_the_dash() {
        let c = code("k7q2m9xa");
        assert_eq!(c.as_str(), "K7Q2M9XA");
        assert_eq!(c.display(), "K7Q2-M9XA");
        assert_eq!(c.to_string(), "K7Q2-M9XA");
    }

    #[test]
    fn code_deserialize_validates() {
        let de = |s: &'static str| {
            TrackingCode::deserialize(s.into_deserializer())
                .map_err(|e: serde::de::value::Error| e.to_string())
        };
        assert_eq!(de("k7q2-m9xa"), Ok(code("K7Q2M9XA")));
        assert!(de("K7Q2-M9X0").is_err());
    }

    // --- Attributes -------------------------------------------------------

    /// `as_str` must be the serde name, or the database and the API disagree.
    fn serde_name_matches<T>(all: &[T], as_str: fn(&T) -> &'static str)
    where
        T: for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        for value in all {
            let de: Result<T, serde::de::value::Error> =
                T::deserialize(as_str(value).into_deserializer());
            assert_eq!(de.as_ref().ok(), Some(value));
        }
    }

    #[test]
    fn severity() {
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
            assert_eq!(Severity::parse(s.label_vi()), Some(s));
            assert_eq!(Severity::parse(s.label_en()), Some(s));
        }
        assert_eq!(Severity::parse("khan cap"), Some(Severity::Urgent));
        assert_eq!(Severity::parse(" PHỨC TẠP "), Some(Severity::Complex));
        assert_eq!(Severity::parse("rất gấp lắm"), None);
        assert_eq!(Severity::parse(""), None);
        serde_name_matches(&Severity::ALL, Severity::as_str);
    }

    #[test]
    fn feedback_state_labels() {
        for s in FeedbackState::ALL {
            assert_eq!(FeedbackState::parse(s.as_str()), Some(s));
            assert_eq!(FeedbackState::parse(s.label_vi()), Some(s));
            assert_eq!(FeedbackState::parse(s.label_en()), Some(s));
        }
        assert_eq!(
            FeedbackState::parse("dang xu ly"),
            Some(FeedbackState::InProgress)
        );
        assert_eq!(FeedbackState::parse("xong"), None);
        serde_name_matches(&FeedbackState::ALL, FeedbackState::as_str);
    }

    #[test]
    fn feedback_state_transitions() {
        use FeedbackState::*;
        let allowed = [
            (Received, Acknowledged),
            (Received, InProgress),
            (Received, Refused),
            (Acknowledged, InProgress),
            (Acknowledged, Answered),
            (Acknowledged, Refused),
            (InProgress, Answered),
            (InProgress, Refused),
            (Reopened, InProgress),
            (Reopened, Answered),
            (Reopened, Refused),
            (Answered, Closed),
            (Answered, Reopened),
            (Closed, Reopened),
        ];
        for from in FeedbackState::ALL {
            for to in FeedbackState::ALL {
                assert_eq!(
                    from.can_move_to(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
        for to in FeedbackState::ALL {
            assert!(!Refused.can_move_to(to), "refused -> {to:?}");
        }
        assert!(Answered.can_move_to(Reopened));
        assert!(!Received.can_move_to(Answered));
    }

    #[test]
    fn feedback_state_open() {
        use FeedbackState::*;
        let open: Vec<FeedbackState> = FeedbackState::ALL
            .into_iter()
            .filter(FeedbackState::is_open)
            .collect();
        assert_eq!(open, [Received, Acknowledged, InProgress, Reopened]);
        assert_eq!(Reopened.open311_status(), "open");
        assert_eq!(InProgress.open311_status(), "open");
        assert_eq!(Answered.open311_status(), "closed");
        assert_eq!(Refused.open311_status(), "closed");
        assert_eq!(Closed.open311_status(), "closed");
    }

    #[test]
    fn channel() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
            assert_eq!(Channel::parse(c.label_vi()), Some(c));
            assert_eq!(Channel::parse(c.label_en()), Some(c));
        }
        assert_eq!(Channel::parse("Open 311"), Some(Channel::Open311));
        assert_eq!(Channel::parse("tin nhan"), Some(Channel::Sms));
        assert_eq!(Channel::parse("fax"), None);
        serde_name_matches(&Channel::ALL, Channel::as_str);
    }

    #[test]
    fn relay_method() {
        for m in RelayMethod::ALL {
            assert_eq!(RelayMethod::parse(m.as_str()), Some(m));
            assert_eq!(RelayMethod::parse(m.label_vi()), Some(m));
            assert_eq!(RelayMethod::parse(m.label_en()), Some(m));
        }
        assert_eq!(RelayMethod::parse("den nha"), Some(RelayMethod::HomeVisit));
        assert_eq!(RelayMethod::parse("goi dien"), Some(RelayMethod::PhoneCall));
        assert_eq!(RelayMethod::parse("Zalo"), Some(RelayMethod::GroupChat));
        assert_eq!(
            RelayMethod::parse("nhóm Zalo / nhóm chat"),
            Some(RelayMethod::GroupChat)
        );
        assert_eq!(RelayMethod::parse("họp"), Some(RelayMethod::Meeting));
        assert_eq!(RelayMethod::parse("thư"), None);
        serde_name_matches(&RelayMethod::ALL, RelayMethod::as_str);
    }

    // --- SMS --------------------------------------------------------------

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Topic {
        Security,
        Environment,
        Epidemic,
    }

    /// As seeded by the 0004_feedback migration.
    const TOPIC_KEYWORDS: &[(&str, Topic)] = &[
        ("dich benh", Topic::Epidemic),
        ("dich", Topic::Epidemic),
        ("benh", Topic::Epidemic),
        ("an ninh", Topic::Security),
        ("an ninh trat tu", Topic::Security),
        ("antt", Topic::Security),
        ("moi truong", Topic::Environment),
        ("rac", Topic::Environment),
        ("rac thai", Topic::Environment),
        ("", Topic::Environment),
    ];

    #[test]
    fn sms_report_security() {
        let cmd = parse_sms("PA an ninh Co nguoi la mat mat");
        assert_eq!(
            cmd,
            SmsCommand::Report {
                words: words(&["an", "ninh", "co", "nguoi", "la", "mat", "mat"]),
                text: "an ninh Co nguoi la mat mat".to_owned(),
            }
        );
        let SmsCommand::Report { words, text } = cmd else {
            unreachable!()
        };
        assert_eq!(
            split_topic(&words, TOPIC_KEYWORDS),
            Some((Topic::Security, 2))
        );
        assert_eq!(text_after_words(&text, 2), "Co nguoi la mat mat");
        assert_eq!(
            report_topic(&words, &text, TOPIC_KEYWORDS),
            Ok((Topic::Security, "Co nguoi la mat mat"))
        );
    }

    #[test]
    fn sms_report_environment_lowercase() {
        let SmsCommand::Report { words, text } = parse_sms("pa moi truong rac thai o cong lang")
        else {
            panic!("not a report")
        };
        assert_eq!(text, "moi truong rac thai o cong lang");
        assert_eq!(
            report_topic(&words, &text, TOPIC_KEYWORDS),
            Ok((Topic::Environment, "rac thai o cong lang"))
        );
    }

    #[test]
    fn sms_report_with_diacritics_keeps_them() {
        let input = "Phản ánh môi trường: Rác thải ở cổng làng";
        for typed in [
            input.to_owned(),
            unicode_normalization::UnicodeNormalization::nfd(input).collect::<String>(),
        ] {
            let SmsCommand::Report { words, text } = parse_sms(&typed) else {
                panic!("not a report: {typed}")
            };
            assert_eq!(words[..3], ["moi", "truong", "rac"]);
            assert_eq!(text, "môi trường: Rác thải ở cổng làng");
            assert_eq!(
                report_topic(&words, &text, TOPIC_KEYWORDS),
                Ok((Topic::Environment, "Rác thải ở cổng làng"))
            );
        }
    }

    #[test]
    fn sms_report_keyword_spellings() {
        for typed in [
            "PA an ninh co trom",
            "pa an ninh co trom",
            "Pa: an ninh co trom",
            "P.A an ninh co trom",
            "  ...PA - an ninh co trom!  ",
            "phản ánh an ninh co trom",
            "PHAN ANH an ninh co trom",
            "phan anh: an ninh co trom",
        ] {
            match parse_sms(typed) {
                SmsCommand::Report { words, .. } => {
                    assert_eq!(words[..2], ["an", "ninh"], "{typed}")
                }
                other => panic!("{typed}: {other:?}"),
            }
        }
    }

    #[test]
    fn sms_report_without_text() {
        assert_eq!(parse_sms("PA"), unknown(UnknownSms::ReportWithoutText));
        assert_eq!(parse_sms("pa: rac"), unknown(UnknownSms::ReportWithoutText));
        // Two words, but both are the topic.
        let SmsCommand::Report { words, text } = parse_sms("PA an ninh") else {
            panic!("not a report")
        };
        assert_eq!(
            report_topic(&words, &text, TOPIC_KEYWORDS),
            Err(UnknownSms::ReportWithoutText)
        );
        let SmsCommand::Report { words, text } = parse_sms("PA giao thong o ga") else {
            panic!("not a report")
        };
        assert_eq!(
            report_topic(&words, &text, TOPIC_KEYWORDS),
            Err(UnknownSms::UnknownTopic)
        );
    }

    #[test]
    fn sms_reply() {
        let expected = SmsCommand::Reply {
            code: code("K7Q2M9XA"),
            text: "da sua xong chua".to_owned(),
        };
        for typed in [
            "TL K7Q2-M9XA da sua xong chua",
            "tl k7q2m9xa da sua xong chua",
            "TL: K7Q2 M9XA - da sua xong chua",
            "trả lời K7Q2-M9XA: da sua xong chua",
            "tra loi K7Q2-M9XA da sua xong chua",
            "T.L K7Q2-M9XA da sua xong chua",
        ] {
            assert_eq!(parse_sms(typed), expected, "{typed}");
        }
        assert_eq!(
            parse_sms("TL K7Q2-M9XA Đã sửa xong chưa?"),
            SmsCommand::Reply {
                code: code("K7Q2M9XA"),
                text: "Đã sửa xong chưa?".to_owned(),
            }
        );
    }

    #[test]
    fn sms_reply_errors() {
        assert_eq!(
            parse_sms("TL K7Q2M9XA"),
            unknown(UnknownSms::ReplyWithoutText)
        );
        assert_eq!(
            parse_sms("TL K7Q2-M9XA !!"),
            unknown(UnknownSms::ReplyWithoutText)
        );
        assert_eq!(parse_sms("TL 123"), unknown(UnknownSms::ReplyBadCode));
        assert_eq!(parse_sms("TL"), unknown(UnknownSms::ReplyBadCode));
        assert_eq!(
            parse_sms("TL K7Q2-M9X0 da sua chua"),
            unknown(UnknownSms::ReplyBadCode)
        );
        assert_eq!(
            parse_sms("TL K7Q2M9XAB da sua chua"),
            unknown(UnknownSms::ReplyBadCode)
        );
        assert_eq!(
            parse_sms("TL K7Q2 da sua"),
            unknown(UnknownSms::ReplyBadCode)
        );
    }

    #[test]
    fn sms_rating() {
        for (typed, stars) in [
            ("DG K7Q2-M9XA 5", 5),
            ("dg k7q2m9xa 4 sao", 4),
            ("Đánh giá K7Q2 M9XA: 1", 1),
            ("danh gia K7Q2-M9XA 3", 3),
        ] {
            assert_eq!(
                parse_sms(typed),
                SmsCommand::Rate {
                    code: code("K7Q2M9XA"),
                    stars
                },
                "{typed}"
            );
        }
        for bad in [
            "DG K7Q2-M9XA",
            "DG K7Q2-M9XA 6",
            "DG K7Q2-M9XA 0",
            "DG 5",
            "DG K7Q2-M9XA tot",
        ] {
            assert_eq!(parse_sms(bad), unknown(UnknownSms::RateBadForm), "{bad}");
        }
        assert!(sms_help(&UnknownSms::RateBadForm).contains("DG <ma>"));
    }

    #[test]
    fn sms_no_keyword_empty_and_ack() {
        assert_eq!(parse_sms("Xin chao"), unknown(UnknownSms::NoKeyword));
        assert_eq!(
            parse_sms("PAN an ninh co trom"),
            unknown(UnknownSms::NoKeyword)
        );
        assert_eq!(parse_sms("😀😀"), unknown(UnknownSms::Empty));
        assert_eq!(parse_sms(" \t\r\n "), unknown(UnknownSms::Empty));
        assert_eq!(parse_sms(""), unknown(UnknownSms::Empty));
        assert_eq!(parse_sms("\u{200b}?!"), unknown(UnknownSms::Empty));
        for typed in ["OK", "ok", " Ok! ", "DA NHAN", "Đã nhận", "đã nhận 👍"] {
            assert_eq!(parse_sms(typed), SmsCommand::Ack, "{typed}");
        }
        assert_eq!(parse_sms("OK cam on"), unknown(UnknownSms::NoKeyword));
        // "Đã nhận" only acknowledges when it is the whole message.
        assert_eq!(
            parse_sms("Đã nhận tiền hỗ trợ rồi"),
            unknown(UnknownSms::NoKeyword)
        );
    }

    #[test]
    fn sms_length_counts_chars() {
        assert_eq!(parse_sms(&"a".repeat(1000)), unknown(UnknownSms::TooLong));
        // 640 characters, far more bytes: accepted.
        let prefix = "PA an ninh ";
        let at_limit = format!(
            "{prefix}{}",
            "ạ".repeat(SMS_MAX_CHARS - prefix.chars().count())
        );
        assert_eq!(at_limit.chars().count(), SMS_MAX_CHARS);
        assert!(matches!(parse_sms(&at_limit), SmsCommand::Report { .. }));
        assert_eq!(
            parse_sms(&format!("{at_limit}ạ")),
            unknown(UnknownSms::TooLong)
        );
    }

    #[test]
    fn sms_control_characters_stripped() {
        assert_eq!(
            parse_sms("P\u{0}A\u{1b} an ninh\r\nCo\u{7} nguoi\u{feff} la"),
            SmsCommand::Report {
                words: words(&["an", "ninh", "co", "nguoi", "la"]),
                text: "an ninh Co nguoi la".to_owned(),
            }
        );
    }

    #[test]
    fn split_topic_picks_longest() {
        let w = words(&["dich", "benh", "o", "xom", "2"]);
        assert_eq!(split_topic(&w, TOPIC_KEYWORDS), Some((Topic::Epidemic, 2)));
        // Order in the list does not matter, length does.
        let reversed: Vec<(&str, Topic)> = TOPIC_KEYWORDS.iter().rev().copied().collect();
        assert_eq!(split_topic(&w, &reversed), Some((Topic::Epidemic, 2)));
        let w = words(&["dich", "ta", "lon"]);
        assert_eq!(split_topic(&w, TOPIC_KEYWORDS), Some((Topic::Epidemic, 1)));
        let w = words(&["an", "ninh", "trat", "tu", "kem"]);
        assert_eq!(split_topic(&w, TOPIC_KEYWORDS), Some((Topic::Security, 4)));
        // Keywords are folded before comparing.
        let w = words(&["moi", "truong", "xau"]);
        assert_eq!(
            split_topic(&w, &[("Môi trường", Topic::Environment)]),
            Some((Topic::Environment, 2))
        );
        assert_eq!(split_topic(&words(&["an"]), TOPIC_KEYWORDS), None);
        assert_eq!(split_topic(&[], TOPIC_KEYWORDS), None);
    }

    #[test]
    fn text_after_words_examples() {
        assert_eq!(text_after_words("an ninh: Có người lạ", 2), "Có người lạ");
        assert_eq!(text_after_words("rác-thải ở cổng", 2), "ở cổng");
        assert_eq!(text_after_words(": an ninh", 0), "an ninh");
        assert_eq!(text_after_words("an ninh", 2), "");
        assert_eq!(text_after_words("an ninh", 5), "");
    }

    #[test]
    fn sms_help_fits_one_gsm_sms() {
        let all = [
            UnknownSms::Empty,
            UnknownSms::NoKeyword,
            UnknownSms::ReportWithoutText,
            UnknownSms::UnknownTopic,
            UnknownSms::ReplyBadCode,
            UnknownSms::ReplyWithoutText,
            UnknownSms::TooLong,
        ];
        for why in all {
            let help = sms_help(&why);
            assert!(help.len() <= 160, "{why:?}: {} chars", help.len());
            // Printable ASCII outside GSM 7-bit's extension table (which costs
            // two characters each).
            assert!(
                help.chars()
                    .all(|c| (' '..='~').contains(&c) && !"[]{}\\^~|`".contains(c)),
                "{why:?}: {help}"
            );
        }
        assert!(sms_help(&UnknownSms::NoKeyword).contains("PA <chu de> <noi dung>"));
        assert!(sms_help(&UnknownSms::NoKeyword).contains("TL <ma> <noi dung>"));
        assert!(sms_help(&UnknownSms::ReplyBadCode).starts_with("Sai ma"));
        assert!(sms_help(&UnknownSms::TooLong).contains("640"));
    }
}
