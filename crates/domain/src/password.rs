//! What a password may not be: too short or long, one character over and
//! over, a run of the keyboard or the digits, one of the passwords every
//! attacker tries first (in English and Vietnamese habits), or the
//! person's own username. Pure: the store calls [`check`] before hashing.

use crate::problem::Problem;
use crate::text;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 200;

/// The passwords tried first, folded (lower case, no diacritics, no
/// spaces). Leaked-password lists agree on the head; the Vietnamese ones
/// are the phrases people here type ("anh yêu em", "mật khẩu").
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "qwerty123",
    "iloveyou",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "welcome123",
    "letmein1",
    "superman",
    "trustno1",
    "whatever",
    "starwars",
    "dragon123",
    "monkey123",
    "master123",
    "admin123",
    "admin1234",
    "administrator",
    "changeme",
    "default1",
    "abc12345",
    "abcd1234",
    "1q2w3e4r",
    "1qaz2wsx",
    "zaq12wsx",
    "qazwsxedc",
    "q1w2e3r4",
    "aa123456",
    "a1234567",
    "12341234",
    "11223344",
    "123123123",
    "123456789a",
    "iloveyou1",
    "matkhau",
    "matkhau1",
    "matkhau123",
    "matkhaumoi",
    "anhyeuem",
    "anhyeuem1",
    "anhyeuem123",
    "emyeuanh",
    "emyeuanh1",
    "yeuem123",
    "yeuanh123",
    "vietnam1",
    "vietnam123",
    "vietnam1975",
    "hanoi123",
    "saigon123",
    "danvan123",
    "danvan2026",
    "totruong",
    "totruong1",
    "truongthon",
    "xaphuong",
    "canbo123",
    "conyeu123",
    "bacho1890",
    "hochiminh",
    "hoangsa1974",
    "truongsa",
    "thanhnien",
    "daihoc123",
    "hocsinh1",
    "sinhvien1",
    "nguyen123",
    "tran1234",
    "minhanh1",
    "ngocanh1",
    "thuytrang",
    "anhtuan1",
    "quanghuy1",
    "thanhcong",
    "thanhcong1",
    "hanhphuc",
    "hanhphuc1",
    "tinhyeu1",
    "zxcvbnm1",
    "asdfghjkl",
    "qwertyuiop",
    "1234qwer",
    "qwer1234",
    "asdf1234",
];

/// Rows of the keyboard and the digits, for "is a run of them".
const RUNS: &[&str] = &[
    "01234567890",
    "09876543210",
    "qwertyuiop",
    "poiuytrewq",
    "asdfghjkl",
    "lkjhgfdsa",
    "zxcvbnm",
    "mnbvcxz",
    "abcdefghijklmnopqrstuvwxyz",
    "zyxwvutsrqponmlkjihgfedcba",
];

/// Checks `password` for the account `username`.
pub fn check(password: &str, username: &str) -> Result<(), Problem> {
    let n = password.chars().count();
    if n < MIN_CHARS {
        return Err(Problem::PasswordTooShort { min: MIN_CHARS });
    }
    if n > MAX_CHARS {
        return Err(Problem::PasswordTooLong { max: MAX_CHARS });
    }
    let folded: String = text::fold(password)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut chars = folded.chars();
    if let Some(first) = chars.next() {
        if chars.all(|c| c == first) {
            return Err(Problem::PasswordWeak);
        }
    }
    // "12345678", "abcdefgh", "qwertyui" and their repeats ("1234512345").
    let unit = repeated_unit(&folded);
    if RUNS.iter().any(|r| r.contains(unit)) || COMMON.contains(&folded.as_str()) {
        return Err(Problem::PasswordWeak);
    }
    let user = text::fold(username);
    if user.chars().count() >= 3 && folded.contains(&user) {
        return Err(Problem::PasswordHasUsername);
    }
    Ok(())
}

/// The shortest piece `s` is made of ("abcabc" → "abc"), else `s`.
fn repeated_unit(s: &str) -> &str {
    let len = s.len();
    for size in 1..=len / 2 {
        if len.is_multiple_of(size) && s.is_char_boundary(size) {
            let unit = &s[..size];
            if unit.repeat(len / size) == s {
                return unit;
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused() {
        for weak in [
            "aaaaaaaa",
            "11111111",
            "12345678",
            "123456789",
            "87654321",
            "qwertyuiop",
            "abcdefgh",
            "12341234",
            "Password",
            "Mật khẩu 123",
            "anh yeu em",
        ] {
            assert_eq!(
                check(weak, "lan.nguyen"),
                Err(Problem::PasswordWeak),
                "{weak}"
            );
        }
        assert_eq!(
            check("xa.phucson-2026", "xa.phucson"),
            Err(Problem::PasswordHasUsername)
        );
        assert_eq!(
            check("short", "x"),
            Err(Problem::PasswordTooShort { min: MIN_CHARS })
        );
    }

    #[test]
    fn ordinary_passwords_pass() {
        for ok in [
            "trâu vàng ăn cỏ non",
            "Hoa-sen-7-cánh",
            "g7Kp2mQx",
            "ngõ 5 có đèn mới",
        ] {
            assert_eq!(check(ok, "lan.nguyen"), Ok(()), "{ok}");
        }
    }
}
