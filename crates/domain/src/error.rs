//! Validation errors for a single form or sheet field.

/// Why a field value was rejected. `Display` is the Vietnamese message, since
/// that is what users read; `code()` is stable for APIs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("{}", self.message_vi())]
    Empty,
    #[error("{}", self.message_vi())]
    TooLong { max: usize },
    #[error("{}", self.message_vi())]
    ControlChars,
    #[error("{}", self.message_vi())]
    InvalidPhone,
    #[error("{}", self.message_vi())]
    InvalidCitizenId,
    #[error("{}", self.message_vi())]
    InvalidDate,
    #[error("{}", self.message_vi())]
    InvalidYear,
    #[error("{}", self.message_vi())]
    InvalidGender,
    #[error("{}", self.message_vi())]
    InvalidReach,
    #[error("{}", self.message_vi())]
    InvalidLevel,
    #[error("{}", self.message_vi())]
    InvalidRole,
    #[error("{}", self.message_vi())]
    InvalidMemberRole,
    #[error("{}", self.message_vi())]
    InvalidRepresents,
    #[error("{}", self.message_vi())]
    InvalidTeamKind,
}

impl FieldError {
    /// Stable snake_case identifier (API responses, i18n lookups, tests).
    pub fn code(&self) -> &'static str {
        match self {
            FieldError::Empty => "empty",
            FieldError::TooLong { .. } => "too_long",
            FieldError::ControlChars => "control_chars",
            FieldError::InvalidPhone => "invalid_phone",
            FieldError::InvalidCitizenId => "invalid_citizen_id",
            FieldError::InvalidDate => "invalid_date",
            FieldError::InvalidYear => "invalid_year",
            FieldError::InvalidGender => "invalid_gender",
            FieldError::InvalidReach => "invalid_reach",
            FieldError::InvalidLevel => "invalid_level",
            FieldError::InvalidRole => "invalid_role",
            FieldError::InvalidMemberRole => "invalid_member_role",
            FieldError::InvalidRepresents => "invalid_represents",
            FieldError::InvalidTeamKind => "invalid_team_kind",
        }
    }

    /// Message shown to users: short, polite, and says how to fix it.
    pub fn message_vi(&self) -> String {
        match self {
            FieldError::Empty => "Không được để trống".to_owned(),
            FieldError::TooLong { max } => format!("Dài quá {max} ký tự"),
            FieldError::ControlChars => {
                "Có ký tự điều khiển không hợp lệ, hãy nhập lại".to_owned()
            }
            FieldError::InvalidPhone => {
                "Số điện thoại không hợp lệ (ví dụ: 0912 345 678 hoặc +84 912 345 678)".to_owned()
            }
            FieldError::InvalidCitizenId => "Số CCCD phải gồm đúng 12 chữ số hợp lệ".to_owned(),
            FieldError::InvalidDate => "Ngày không hợp lệ, hãy viết theo dạng dd/mm/yyyy".to_owned(),
            FieldError::InvalidYear => {
                "Năm không hợp lệ, hãy viết đủ 4 chữ số, từ 1900 đến năm nay".to_owned()
            }
            FieldError::InvalidGender => {
                "Giới tính không hợp lệ, hãy chọn Nam, Nữ hoặc Khác".to_owned()
            }
            FieldError::InvalidReach => "Khả năng nhận tin không hợp lệ, hãy chọn: Điện thoại thông minh, Chỉ điện thoại thường hoặc Không có điện thoại".to_owned(),
            FieldError::InvalidLevel => {
                "Cấp đơn vị không hợp lệ, hãy chọn: Tỉnh, Huyện, Xã hoặc Thôn".to_owned()
            }
            FieldError::InvalidRole => "Vai trò không hợp lệ".to_owned(),
            FieldError::InvalidMemberRole => {
                "Chức vụ trong tổ không hợp lệ, hãy chọn: Tổ trưởng, Tổ phó hoặc Thành viên"
                    .to_owned()
            }
            FieldError::InvalidRepresents => "Thành phần đại diện không hợp lệ".to_owned(),
            FieldError::InvalidTeamKind => {
                "Loại tổ không hợp lệ, hãy chọn: Tổ dân vận hoặc Nhóm dân vận".to_owned()
            }
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            FieldError::Empty => "Must not be empty".to_owned(),
            FieldError::TooLong { max } => format!("Longer than {max} characters"),
            FieldError::ControlChars => "Contains invalid control characters".to_owned(),
            FieldError::InvalidPhone => {
                "Invalid phone number (e.g. 0912 345 678 or +84 912 345 678)".to_owned()
            }
            FieldError::InvalidCitizenId => {
                "A citizen ID (CCCD) must be exactly 12 valid digits".to_owned()
            }
            FieldError::InvalidDate => "Invalid date, please write it as dd/mm/yyyy".to_owned(),
            FieldError::InvalidYear => {
                "Invalid year, please write 4 digits, from 1900 to this year".to_owned()
            }
            FieldError::InvalidGender => {
                "Invalid gender, please choose Male, Female or Other".to_owned()
            }
            FieldError::InvalidReach => {
                "Invalid reach, please choose: Smartphone, Basic phone only or No phone".to_owned()
            }
            FieldError::InvalidLevel => {
                "Invalid unit level, please choose: Province, District, Commune or Hamlet"
                    .to_owned()
            }
            FieldError::InvalidRole => "Invalid role".to_owned(),
            FieldError::InvalidMemberRole => {
                "Invalid team position, please choose: Leader, Deputy or Member".to_owned()
            }
            FieldError::InvalidRepresents => "Invalid represented organisation".to_owned(),
            FieldError::InvalidTeamKind => {
                "Invalid team kind, please choose: Team or Group".to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_vietnamese() {
        assert_eq!(FieldError::Empty.to_string(), "Không được để trống");
        assert_eq!(
            FieldError::TooLong { max: 100 }.to_string(),
            "Dài quá 100 ký tự"
        );
        assert_eq!(FieldError::TooLong { max: 5 }.code(), "too_long");
        assert_eq!(FieldError::InvalidCitizenId.code(), "invalid_citizen_id");
        assert_eq!(
            FieldError::TooLong { max: 5 }.message_en(),
            "Longer than 5 characters"
        );
    }
}
