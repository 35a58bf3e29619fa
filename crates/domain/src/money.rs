//! Money as integer minor units with an ISO 4217 currency.

use std::fmt;

use crate::{Minutes, ValidationError};

/// ISO 4217 active codes with their minor-unit digits.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// Largest amount accepted, in minor units (about 10^15): far beyond any
/// booking price, and safe to multiply by a duration in `i128`.
const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// An ISO 4217 currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    minor_digits: u8,
}

impl Currency {
    /// Looks up an ISO 4217 code (upper case).
    pub fn parse(code: &str) -> Result<Currency, ValidationError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(code, minor_digits)| Currency {
                code,
                minor_digits: *minor_digits,
            })
            .ok_or_else(|| {
                ValidationError::new("price.currency", "must be an ISO 4217 currency code")
            })
    }

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// How many digits the minor unit has (2 for USD, 0 for JPY, 3 for KWD).
    pub fn minor_digits(self) -> u8 {
        self.minor_digits
    }
}

/// An exact amount of money: integer minor units of a currency, `>= 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// From minor units (cents for USD).
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Money, ValidationError> {
        if !(0..=MAX_MINOR).contains(&minor) {
            return Err(ValidationError::new(
                "price.amount",
                "must be between 0 and 10^15 minor units",
            ));
        }
        Ok(Money { minor, currency })
    }

    /// Parses a decimal in major units (`150`, `149.99`, `1e2`) with at most the
    /// currency's minor digits. Exact: no floating point is involved.
    pub fn from_decimal(text: &str, currency: Currency) -> Result<Money, ValidationError> {
        let field = "price.amount";
        let invalid = |msg: &str| ValidationError::new(field, msg);
        let text = text.trim();
        if text.starts_with('-') {
            return Err(invalid("must be at least 0"));
        }
        // Split off an exponent, as JSON numbers may carry one.
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(i) => {
                let exp: i32 = text[i + 1..]
                    .parse()
                    .map_err(|_| invalid("must be a decimal number"))?;
                (&text[..i], exp)
            }
            None => (text, 0),
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        if int_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid("must be a decimal number"));
        }
        let digits: String = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        // Value = digits * 10^(exponent - frac_len); we want value * 10^minor.
        let scale = exponent - frac_part.len() as i32 + i32::from(currency.minor_digits);
        let significant = digits.trim_end_matches('0');
        let trailing_zeros = (digits.len() - significant.len()) as i32;
        if significant.is_empty() {
            return Money::from_minor(0, currency);
        }
        if scale + trailing_zeros < 0 {
            return Err(invalid(&format!(
                "has more decimals than {} allows ({})",
                currency.code, currency.minor_digits
            )));
        }
        let too_large = || invalid("is too large");
        let base: i64 = significant.parse().map_err(|_| too_large())?;
        let power = scale + trailing_zeros;
        let factor = 10i64
            .checked_pow(u32::try_from(power).map_err(|_| too_large())?)
            .ok_or_else(too_large)?;
        let minor = base.checked_mul(factor).ok_or_else(too_large)?;
        Money::from_minor(minor, currency)
    }

    /// Minor units.
    pub fn minor(self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(self) -> Currency {
        self.currency
    }

    /// The amount in major units as exact decimal text: `150`, `149.99`, `0.5`.
    pub fn to_decimal_string(self) -> String {
        let digits = u32::from(self.currency.minor_digits);
        if digits == 0 {
            return self.minor.to_string();
        }
        let div = 10i64.pow(digits);
        let (whole, frac) = (self.minor / div, self.minor % div);
        if frac == 0 {
            return whole.to_string();
        }
        let frac = format!("{frac:0width$}", width = digits as usize);
        format!("{whole}.{}", frac.trim_end_matches('0'))
    }

    /// `self × duration / 60`, rounded half away from zero to the minor unit:
    /// the price of `duration` at an hourly rate of `self`.
    pub fn hourly(self, duration: Minutes) -> Money {
        let product = i128::from(self.minor) * i128::from(duration.get());
        let minor = (product + 30) / 60;
        Money {
            // At most MAX_MINOR * 1440 / 60 < i64::MAX.
            minor: i64::try_from(minor).unwrap_or(i64::MAX),
            currency: self.currency,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency.code)
    }
}

/// How a service's price applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceType {
    /// The amount is per hour: a booking costs amount × duration / 60.
    Hourly,
    /// The amount is the price of one booking.
    Flat,
    /// A price agreed case by case; bookings carry the amount as it stands.
    Custom,
}

impl PriceType {
    /// Wire name.
    pub fn name(self) -> &'static str {
        match self {
            PriceType::Hourly => "hourly",
            PriceType::Flat => "flat",
            PriceType::Custom => "custom",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Result<PriceType, ValidationError> {
        match name {
            "hourly" => Ok(PriceType::Hourly),
            "flat" => Ok(PriceType::Flat),
            "custom" => Ok(PriceType::Custom),
            _ => Err(ValidationError::new(
                "price.type",
                "must be one of hourly, flat, custom",
            )),
        }
    }
}

/// A service's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Price {
    /// The amount (per hour for [`PriceType::Hourly`]).
    pub amount: Money,
    /// How the amount applies.
    pub kind: PriceType,
}

impl Price {
    /// What one booking of `duration` costs.
    pub fn for_booking(&self, duration: Minutes) -> Money {
        match self.kind {
            PriceType::Hourly => self.amount.hourly(duration),
            PriceType::Flat | PriceType::Custom => self.amount,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(Money::from_decimal("149.99", usd()).unwrap().minor(), 14999);
        assert_eq!(Money::from_decimal("150", usd()).unwrap().minor(), 15000);
        assert_eq!(Money::from_decimal("1.5e2", usd()).unwrap().minor(), 15000);
        assert_eq!(Money::from_decimal("0.10", usd()).unwrap().minor(), 10);
        assert_eq!(Money::from_decimal("0", usd()).unwrap().minor(), 0);
        assert!(Money::from_decimal("1.001", usd()).is_err());
        assert!(Money::from_decimal("-1", usd()).is_err());
        assert!(Money::from_decimal("1.5", Currency::parse("JPY").unwrap()).is_err());
        assert_eq!(
            Money::from_decimal("1.005", Currency::parse("KWD").unwrap())
                .unwrap()
                .minor(),
            1005
        );
        assert!(Money::from_decimal("1e300", usd()).is_err());
    }

    #[test]
    fn decimal_text_round_trips() {
        for text in ["150", "149.99", "0.5", "0", "0.01"] {
            assert_eq!(
                Money::from_decimal(text, usd())
                    .unwrap()
                    .to_decimal_string(),
                text
            );
        }
    }

    #[test]
    fn hourly_prices_round_to_the_minor_unit() {
        let rate = Money::from_decimal("150", usd()).unwrap();
        assert_eq!(rate.hourly(Minutes::new(60)).minor(), 15000);
        assert_eq!(rate.hourly(Minutes::new(45)).minor(), 11250);
        let odd = Money::from_decimal("0.01", usd()).unwrap();
        assert_eq!(odd.hourly(Minutes::new(30)).minor(), 1); // 0.5 cent rounds up
        assert_eq!(odd.hourly(Minutes::new(29)).minor(), 0);
    }

    #[test]
    fn currencies_are_iso_codes() {
        assert!(Currency::parse("usd").is_err());
        assert!(Currency::parse("XYZ").is_err());
        assert_eq!(Currency::parse("JPY").unwrap().minor_digits(), 0);
    }
}
