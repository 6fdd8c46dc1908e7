//! The sentences of the product's refusals, in Vietnamese and English: the
//! one place where a [`Problem`] (raised by the store or the domain) or a
//! [`FieldError`] becomes words. Pages show them in the reader's language;
//! the JSON API sends them beside the stable code.

use danvan_domain::feedback::FeedbackState;
use danvan_domain::loudspeaker::{SlotError, MAX_SLOTS};
use danvan_domain::material::{FileRefused, MAX_MATERIAL_BYTES};
use danvan_domain::problem::Problem;
use danvan_domain::{FieldError, UnitLevel};

use crate::i18n::Lang;

fn state(lang: Lang, s: FeedbackState) -> &'static str {
    match lang {
        Lang::Vi => s.label_vi(),
        Lang::En => s.label_en(),
    }
}

fn level(lang: Lang, l: UnitLevel) -> &'static str {
    match lang {
        Lang::Vi => l.label_vi(),
        Lang::En => l.label_en(),
    }
}

/// `p` as a sentence in `lang`.
pub fn problem(lang: Lang, p: &Problem) -> String {
    use Problem::*;
    let vi = lang == Lang::Vi;
    let two = |v: &str, e: &str| if vi { v.to_string() } else { e.to_string() };
    match p {
        AnnouncementTitleMissing => two(
            "Hãy ghi tiêu đề thông báo",
            "Write the announcement's title",
        ),
        AnnouncementBodyMissing => two(
            "Hãy ghi nội dung thông báo",
            "Write the announcement's text",
        ),
        AnnouncementBodyTooLong { max } => {
            if vi {
                format!("Nội dung thông báo dài quá {max} ký tự")
            } else {
                format!("The announcement is longer than {max} characters")
            }
        }
        SendTimePast => two(
            "Thời điểm gửi đã qua, hãy chọn thời điểm sắp tới",
            "The sending time has passed: choose a time to come",
        ),
        ExpiryBeforeSend => two(
            "Thời điểm hết hạn phải sau thời điểm gửi",
            "The expiry must come after the sending time",
        ),
        UnknownReach => two(
            "Loại hộ nhận tin: smartphone, basic_phone hoặc no_phone",
            "Households to reach: smartphone, basic_phone or no_phone",
        ),
        AudienceMissing => two(
            "Hãy chọn địa bàn hoặc tổ nhận thông báo",
            "Choose the units or teams to inform",
        ),
        AudienceTooLarge { max } => {
            if vi {
                format!("Tối đa {max} địa bàn và tổ mỗi thông báo")
            } else {
                format!("At most {max} units and teams per announcement")
            }
        }
        AudienceUnitOutside => two(
            "Địa bàn nhận phải thuộc đơn vị gửi thông báo",
            "The units informed must lie under the writing unit",
        ),
        AudienceTeamOutside => two(
            "Tổ nhận phải thuộc đơn vị gửi thông báo",
            "The teams informed must lie under the writing unit",
        ),
        AudienceEmpty => two(
            "Không có hộ nào thuộc đối tượng nhận đã chọn",
            "No household matches the audience chosen",
        ),
        AnnouncementNotPending => two(
            "Thông báo này không còn chờ duyệt",
            "This announcement is no longer waiting for approval",
        ),
        AnnouncementWithdrawn => two(
            "Thông báo này đã được thu hồi",
            "This announcement has been withdrawn",
        ),
        WithdrawReasonMissing => two("Hãy ghi lý do thu hồi", "Write why it is withdrawn"),
        ApprovalRuleProvinceOnly => two(
            "Cách duyệt thông báo được đặt cho cả tỉnh",
            "The approval rule is set for a whole province",
        ),
        ApprovalRuleUnknown => two("Cách duyệt không hợp lệ", "Unknown approval rule"),
        EmergencyRoleInvalid => two(
            "Chỉ có thể chọn vai trò viết thông báo (cán bộ tỉnh, giám sát, cán bộ xã, tổ trưởng) để gửi tin khẩn cấp không chờ duyệt",
            "Only a role that writes announcements (province officer, supervisor, commune officer, team leader) may be named to send emergencies without approval",
        ),
        PublicityProvinceOnly => two(
            "Mức công khai của lĩnh vực được đặt cho cả tỉnh",
            "A topic's publicity is set for a whole province",
        ),
        PublicityUnknown => two(
            "Mức công khai không hợp lệ: công khai, công khai không nội dung hoặc không công khai",
            "Unknown publicity: public, no_text or private",
        ),
        WithdrawnNoVisit => two(
            "Thông báo này đã được thu hồi, không cần đến báo",
            "This announcement was withdrawn: no visit is needed",
        ),
        HouseholdNotInAudience => two(
            "Hộ này không thuộc đối tượng nhận thông báo",
            "This household is not in the announcement's audience",
        ),
        DeadlineNotPositive => two(
            "Thời hạn phải là số dương",
            "A deadline must be a positive number",
        ),
        HandlingUnitLevel => two(
            "Đơn vị xử lý phải là xã hoặc đơn vị trên/dưới của xã",
            "The handling unit must be a commune, or a unit above or below one",
        ),
        TopicUnknown => two("Chủ đề không tồn tại", "No such topic"),
        FeedbackTextMissing => two(
            "Hãy ghi nội dung phản ánh",
            "Write what the report is about",
        ),
        ReporterRequired => two(
            "Chủ đề này cần ghi tên và số điện thoại người phản ánh",
            "This topic needs the reporter's name and phone number",
        ),
        RelayHouseholdMissing => two(
            "Hãy chọn hộ của người phản ánh",
            "Choose the reporter's household",
        ),
        RelayMethodMissing => two(
            "Hãy chọn hộ và cách nhận phản ánh",
            "Choose the household and how the concern was heard",
        ),
        SubmissionKeyTooLong => two("Mã gửi quá dài", "The submission key is too long"),
        HamletNotActive => two(
            "Hãy chọn một thôn đang hoạt động",
            "Choose a hamlet that exists today",
        ),
        HouseholdNotInHamlet => two(
            "Hộ không thuộc thôn đã chọn",
            "The household is not in the hamlet chosen",
        ),
        ResidentNotInHousehold => two(
            "Người này không thuộc hộ đã chọn",
            "This person is not in the household chosen",
        ),
        TrackingCodeUnavailable => two(
            "Không tạo được mã theo dõi, hãy thử lại",
            "No tracking code could be made; please try again",
        ),
        TooManyPhotos { max } => {
            if vi {
                format!("Chỉ gửi được tối đa {max} ảnh")
            } else {
                format!("At most {max} photos")
            }
        }
        StateChange { from, to } => {
            if vi {
                format!(
                    "Không thể chuyển từ «{}» sang «{}»",
                    state(lang, *from),
                    state(lang, *to)
                )
            } else {
                format!(
                    "Cannot go from “{}” to “{}”",
                    state(lang, *from),
                    state(lang, *to)
                )
            }
        }
        NoteMissing => two("Hãy ghi nội dung", "Write something"),
        AssigneeOutside => two(
            "Người được giao không thuộc đơn vị xử lý",
            "The person chosen does not belong to the handling unit",
        ),
        FeedbackClosed => two(
            "Phản ánh đã đóng hoặc đã trả lời",
            "The report is closed or already answered",
        ),
        AnswerMissing => two("Hãy ghi nội dung trả lời", "Write the answer"),
        NoDraftAnswer => two("Chưa có dự thảo trả lời", "There is no draft answer yet"),
        DuplicateOfItself => two(
            "Không thể gộp vào chính nó",
            "A report cannot be a duplicate of itself",
        ),
        ChangedByAnother => two(
            "Phản ánh vừa được người khác thay đổi, hãy tải lại",
            "Someone else has just changed this report: reload it",
        ),
        ChangedTryAgain => two(
            "Phản ánh vừa thay đổi, hãy thử lại",
            "The report has just changed: please try again",
        ),
        RatingRange => two("Hãy chấm từ 1 đến 5 sao", "Give 1 to 5 stars"),
        NotRatable => two(
            "Phản ánh chưa có trả lời hoặc đã được đánh giá",
            "The report has no answer yet, or was rated already",
        ),
        TemplateTextMissing => two("Hãy ghi nội dung mẫu trả lời", "Write the template's text"),
        PeriodReversed => two(
            "Ngày bắt đầu phải trước ngày kết thúc",
            "The start must come before the end",
        ),
        PeriodTooLong { days } => {
            if vi {
                format!("Khoảng thời gian tìm không được quá {days} ngày")
            } else {
                format!("Search at most {days} days at a time")
            }
        }
        TooManyCodes { max } => {
            if vi {
                format!("Tối đa {max} mã theo dõi mỗi lần")
            } else {
                format!("At most {max} tracking codes at a time")
            }
        }
        ValidityReversed => two(
            "Ngày hết hiệu lực trước ngày bắt đầu",
            "The end of validity comes before its start",
        ),
        LevelUnder { child, parent } => {
            if vi {
                format!(
                    "Không thể đặt {} dưới {}",
                    level(lang, *child),
                    level(lang, *parent)
                )
            } else {
                format!(
                    "A {} cannot be placed under a {}",
                    level(lang, *child).to_lowercase(),
                    level(lang, *parent).to_lowercase()
                )
            }
        }
        MergeNeedsSources => two(
            "Cần ít nhất một đơn vị được sáp nhập",
            "Name at least one unit to merge",
        ),
        SplitHamletOnly => two("Chỉ tách được thôn", "Only a hamlet can be split"),
        SplitTargetUnknown => two(
            "Hộ được chuyển tới thôn không nằm trong danh sách tách",
            "A household goes to a hamlet that is not one of the split's",
        ),
        SplitHouseholdOutside { household } => {
            if vi {
                format!("Hộ {household} không thuộc thôn được tách")
            } else {
                format!("Household {household} is not in the hamlet being split")
            }
        }
        SplitLeftBehind { left } => {
            if vi {
                format!("Còn {left} hộ chưa được chuyển sang thôn mới")
            } else {
                format!("{left} households are not yet moved to a new hamlet")
            }
        }
        MoveIntoItself => two(
            "Không thể chuyển một đơn vị vào bên trong chính nó",
            "A unit cannot move inside itself",
        ),
        PlacePointFar { nearest } => {
            if nearest.is_empty() {
                two(
                    "Không có thôn nào gần toạ độ này; hãy ghi địa chỉ hoặc mã thôn",
                    "No hamlet is near this point; give an address or the hamlet's id",
                )
            } else if vi {
                format!(
                    "Toạ độ nằm ngoài các xã đã biết; thôn gần nhất: {}. Hãy ghi địa chỉ hoặc mã thôn",
                    candidates(lang, nearest)
                )
            } else {
                format!(
                    "The point lies outside the known communes; nearest hamlets: {}. Give an address or the hamlet's id",
                    candidates(lang, nearest)
                )
            }
        }
        PlaceAddressUnknown { candidates: list } => {
            if list.is_empty() {
                two(
                    "Địa chỉ không nêu tên thôn nào; hãy ghi tên thôn và xã",
                    "The address names no hamlet; give the hamlet and the commune",
                )
            } else if vi {
                format!(
                    "Địa chỉ không nêu tên thôn nào; hãy ghi tên một trong các thôn: {}",
                    candidates(lang, list)
                )
            } else {
                format!(
                    "The address names no hamlet; name one of: {}",
                    candidates(lang, list)
                )
            }
        }
        PlaceAmbiguous { candidates: list } => {
            if vi {
                format!(
                    "Địa chỉ khớp với nhiều thôn: {}. Hãy ghi thêm tên xã hoặc mã thôn",
                    candidates(lang, list)
                )
            } else {
                format!(
                    "The address fits several hamlets: {}. Add the commune or give the hamlet's id",
                    candidates(lang, list)
                )
            }
        }
        PlaceMissing => two(
            "Hãy cho biết nơi xảy ra sự việc: mã thôn, toạ độ hoặc địa chỉ",
            "Say where it happened: the hamlet's id, a point or an address",
        ),
        PasswordTooShort { min } => {
            if vi {
                format!("Mật khẩu phải có ít nhất {min} ký tự")
            } else {
                format!("A password needs at least {min} characters")
            }
        }
        PasswordTooLong { max } => {
            if vi {
                format!("Mật khẩu dài quá {max} ký tự")
            } else {
                format!("A password has at most {max} characters")
            }
        }
        TooManyReads { minutes } => {
            if vi {
                format!("Ông/bà đã xem thông tin của quá nhiều hộ trong ít phút. Hãy thử lại sau {minutes} phút; việc này đã được ghi vào nhật ký.")
            } else {
                format!("You have read too many households' data in a few minutes. Try again in {minutes} minutes; this was written to the audit log.")
            }
        }
        BadCredentials => two(
            "Tên đăng nhập hoặc mật khẩu không đúng",
            "Wrong username or password",
        ),
        PasswordWeak => two(
            "Mật khẩu quá dễ đoán (một ký tự lặp lại, dãy phím liền nhau hoặc mật khẩu hay gặp). Hãy chọn một câu dễ nhớ mà người khác khó đoán.",
            "This password is too easy to guess (one character repeated, a run of keys, or a common password). Choose a phrase others cannot guess.",
        ),
        PasswordHasUsername => two(
            "Mật khẩu không được chứa tên đăng nhập",
            "A password may not contain the username",
        ),
        PasswordCurrentWrong => two("Mật khẩu hiện tại không đúng", "The current password is wrong"),
        PasswordWait { seconds } => {
            let (n, vi_unit, en_unit) = wait_words(*seconds);
            if vi {
                format!("Đã nhập sai mật khẩu nhiều lần. Hãy thử lại sau {n} {vi_unit}.")
            } else {
                format!("Too many wrong passwords. Try again in {n} {en_unit}.")
            }
        }
        UsernameChars => two(
            "Tên đăng nhập chỉ gồm chữ không dấu, số và . _ -",
            "A user name has only letters without marks, digits and . _ -",
        ),
        RoleNeedsTeam => two("Vai trò này cần --team", "This role needs --team"),
        RoleNeedsUnit => two("Vai trò này cần --unit", "This role needs --unit"),
        AccountTaken => two(
            "Tên đăng nhập hoặc số điện thoại đã được dùng",
            "The user name or phone number is taken",
        ),
        PointOutsideVietnam => two(
            "Toạ độ nằm ngoài lãnh thổ Việt Nam",
            "The point lies outside Vietnam",
        ),
        PointIncomplete => two(
            "Cần cả vĩ độ và kinh độ",
            "Give both latitude and longitude",
        ),
        OneHeadPerHousehold => two(
            "Mỗi hộ phải có đúng một chủ hộ",
            "A household has exactly one head",
        ),
        HouseholdNeedsHamlet => two(
            "Hộ gia đình phải thuộc một thôn",
            "A household belongs to a hamlet",
        ),
        TeamNotOfHamlet => two(
            "Tổ dân vận không thuộc thôn của hộ",
            "The team is not of the household's hamlet",
        ),
        HouseholdCodeTaken { code } => {
            if vi {
                format!("Mã hộ «{code}» đã tồn tại")
            } else {
                format!("Household code “{code}” exists already")
            }
        }
        CitizenIdTaken => two(
            "Số CCCD đã có trong hệ thống",
            "This citizen id is recorded already",
        ),
        TeamNeedsHamlet => two(
            "Tổ dân vận phải thuộc một thôn",
            "A team belongs to a hamlet",
        ),
        TeamCodeTaken { code } => {
            if vi {
                format!("Mã tổ «{code}» đã được dùng")
            } else {
                format!("Team code “{code}” is taken")
            }
        }
        TeamClosed => two(
            "Tổ này đã giải thể",
            "This team is closed",
        ),
        MemberTermOrder => two(
            "Ngày kết thúc nhiệm kỳ phải sau ngày bắt đầu",
            "The term's end must come after its start",
        ),
        MemberEnded => two(
            "Thành viên này đã hết nhiệm kỳ",
            "This member's term has ended",
        ),
        MemberSameTeam => two(
            "Thành viên đã ở tổ này",
            "The member is in this team already",
        ),
        PasswordSetupInvalid => two(
            "Mã đặt mật khẩu không đúng, đã dùng hoặc đã hết hạn. Hãy xin cán bộ cấp mã mới.",
            "The password code is wrong, used or expired. Ask an officer for a new one.",
        ),
        HouseholdsNoneTicked => two(
            "Hãy đánh dấu ít nhất một hộ",
            "Tick at least one household",
        ),
        MaterialTitleMissing => two("Hãy ghi tên tài liệu", "Write the material's title"),
        MaterialAgencyMissing => two(
            "Hãy ghi cơ quan ban hành (ví dụ Công an xã, Trạm y tế)",
            "Write the issuing agency (for example the commune police, the health station)",
        ),
        MaterialFile(f) => file_refused(lang, *f),
        TopicNotForMaterials => two(
            "Chủ đề này không dùng cho tài liệu",
            "This topic is not used for materials",
        ),
        CopiesRange { max } => {
            if vi {
                format!("Số bản in mỗi tổ từ 0 đến {max}")
            } else {
                format!("Printed copies per team: 0 to {max}")
            }
        }
        CopiesGivenRange { max } => {
            if vi {
                format!("Số bản đã phát từ 0 đến {max}")
            } else {
                format!("Copies handed out: 0 to {max}")
            }
        }
        HandoutTeamsMissing => two(
            "Hãy chọn tổ nhận tài liệu",
            "Choose the teams to hand it to",
        ),
        UnitWithoutTeams => two(
            "Đơn vị đã chọn chưa có tổ nào",
            "The unit chosen has no team yet",
        ),
        HandoutTooManyTeams { max } => {
            if vi {
                format!("Tối đa {max} tổ mỗi lần phát")
            } else {
                format!("At most {max} teams per handout")
            }
        }
        BroadcastTimes(e) => slot_error(lang, e),
        UnitChoiceMissing => two("Hãy chọn đơn vị", "Choose a unit"),
        BadChoice { field } => {
            // The form's field in the reader's words.
            let (fvi, fen) = match *field {
                "team" => ("tổ dân vận", "team"),
                "account" => ("người được giao", "person assigned"),
                "action" => ("thao tác", "action"),
                "resident" => ("người dân", "resident"),
                "household" => ("hộ", "household"),
                "province" => ("tỉnh", "province"),
                other => (other, other),
            };
            if vi {
                format!("Lựa chọn không hợp lệ: {fvi}")
            } else {
                format!("Not a valid choice: {fen}")
            }
        }
        UploadInterrupted => two("Tệp gửi lên bị gián đoạn", "The upload was interrupted"),
        UploadUnreadable => two(
            "Dữ liệu gửi lên không đọc được",
            "The form data could not be read",
        ),
    }
}

/// "Thôn Mai Hoàng (Xã Phúc Sơn, mã 12, cách 1,3 km); …"
fn candidates(lang: Lang, list: &[danvan_domain::place::PlaceCandidate]) -> String {
    list.iter()
        .map(|c| {
            let id = match lang {
                Lang::Vi => format!("mã {}", c.hamlet_id),
                Lang::En => format!("id {}", c.hamlet_id),
            };
            let away = c.metres.map(|m| {
                let km = format!("{:.1}", m as f64 / 1000.0);
                match lang {
                    Lang::Vi => format!(", cách {} km", km.replace('.', ",")),
                    Lang::En => format!(", {km} km away"),
                }
            });
            let commune = if c.commune.is_empty() {
                String::new()
            } else {
                format!("{}, ", c.commune)
            };
            format!("{} ({commune}{id}{})", c.hamlet, away.unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn file_refused(lang: Lang, f: FileRefused) -> String {
    let mb = MAX_MATERIAL_BYTES / (1024 * 1024);
    match (lang, f) {
        (Lang::Vi, f) => f.message_vi(),
        (Lang::En, FileRefused::Empty) => "The file is empty: choose the material's file".into(),
        (Lang::En, FileRefused::TooLarge) => format!("The file is larger than {mb} MB"),
        (Lang::En, FileRefused::Unknown) => "Only PDF, pictures (JPEG, PNG), documents (DOC, DOCX, ODT), spreadsheets (XLS, XLSX), slides (PPTX) or sound (MP3, WAV, OGG)".into(),
        (Lang::En, FileRefused::Mismatch) => "The file name's ending does not match what the file is".into(),
    }
}

fn slot_error(lang: Lang, e: &SlotError) -> String {
    let vi = lang == Lang::Vi;
    match e {
        SlotError::Malformed(part) if vi => {
            format!("Giờ phát \"{part}\" không hợp lệ, hãy ghi dạng 06:00")
        }
        SlotError::Malformed(part) => format!("\"{part}\" is not a time: write it like 06:00"),
        SlotError::NoSuchTime(part) if vi => format!("Giờ phát \"{part}\" không có thật"),
        SlotError::NoSuchTime(part) => format!("\"{part}\" is no time of day"),
        SlotError::Empty if vi => "Hãy ghi ít nhất một giờ phát, ví dụ 06:00, 17:00".into(),
        SlotError::Empty => "Write at least one time, for example 06:00, 17:00".into(),
        SlotError::TooMany if vi => format!("Tối đa {MAX_SLOTS} giờ phát mỗi ngày"),
        SlotError::TooMany => format!("At most {MAX_SLOTS} times a day"),
    }
}

/// A field's refusal in `lang`.
pub fn field_error(lang: Lang, e: &FieldError) -> String {
    match lang {
        Lang::Vi => e.message_vi(),
        Lang::En => e.message_en(),
    }
}

/// A wait as people say it: seconds under two minutes, else minutes.
fn wait_words(seconds: i64) -> (i64, &'static str, &'static str) {
    if seconds < 120 {
        (seconds.max(1), "giây", "seconds")
    } else {
        ((seconds + 59) / 60, "phút", "minutes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Letters only Vietnamese uses (with their marks), and đ.
    fn vietnamese(s: &str) -> bool {
        s.chars().any(|c| {
            matches!(
                c,
                'đ' | 'Đ' | 'ơ' | 'Ơ' | 'ư' | 'Ư' | 'ă' | 'Ă' | 'â' | 'ê' | 'ô'
            ) || ('\u{1EA0}'..='\u{1EF9}').contains(&c)
                || matches!(
                    c,
                    'à' | 'á' | 'ã' | 'è' | 'é' | 'ì' | 'í' | 'ò' | 'ó' | 'õ' | 'ù' | 'ú' | 'ý'
                )
        })
    }

    #[test]
    fn every_problem_has_both_languages() {
        for p in Problem::examples() {
            let (vi, en) = (problem(Lang::Vi, &p), problem(Lang::En, &p));
            assert!(!vi.is_empty() && !en.is_empty(), "{}", p.code());
            assert_ne!(vi, en, "{}", p.code());
            assert!(vietnamese(&vi), "{}: {vi}", p.code());
            assert!(!vietnamese(&en), "{}: {en}", p.code());
        }
    }

    #[test]
    fn every_field_error_has_both_languages() {
        use FieldError::*;
        for e in [
            Empty,
            TooLong { max: 3 },
            ControlChars,
            InvalidPhone,
            InvalidCitizenId,
            InvalidDate,
            InvalidYear,
            InvalidGender,
            InvalidReach,
            InvalidLevel,
            InvalidRole,
            InvalidMemberRole,
            InvalidRepresents,
            InvalidTeamKind,
        ] {
            assert!(vietnamese(&field_error(Lang::Vi, &e)), "{e:?}");
            assert!(!vietnamese(&field_error(Lang::En, &e)), "{e:?}");
        }
    }
}

#[cfg(test)]
mod documented {
    use danvan_domain::policy::Denial;
    use danvan_domain::problem::Problem;

    /// The codes the OpenAPI document lists for `error.code`.
    fn listed() -> Vec<String> {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../assets/openapi.json")).unwrap_or_default();
        doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every code the API can answer is in the OpenAPI document: the
    /// refusals of the store and the policy, and each code a handler
    /// writes itself (found in the sources, so a new one fails here).
    #[test]
    fn every_api_error_code_is_in_the_openapi_document() {
        let listed = listed();
        assert!(!listed.is_empty(), "Error.error.code has an enum");
        let mut missing: Vec<String> = Vec::new();
        let mut want = |code: &str| {
            if !listed.iter().any(|c| c == code) {
                missing.push(code.to_string());
            }
        };
        Problem::examples().iter().for_each(|p| want(p.code()));
        Denial::ALL.iter().for_each(|d| want(d.code()));
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut literal = 0;
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            // `ApiError::new(<status>, "<code>", …)`: the code is the first
            // string literal after the status.
            for part in text.split("ApiError::new(").skip(1) {
                let Some(start) = part.find('"') else {
                    continue;
                };
                let Some(comma) = part.find(',') else {
                    continue;
                };
                if start < comma {
                    continue; // the status is not the first argument
                }
                let rest = &part[start + 1..];
                let code: String = rest.chars().take_while(|c| *c != '"').collect();
                if code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                    && !code.is_empty()
                {
                    literal += 1;
                    want(&code);
                }
            }
        }
        assert!(literal > 5, "the handlers' own codes were found");
        assert!(missing.is_empty(), "not in openapi.json: {missing:?}");
    }
}
