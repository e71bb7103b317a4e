//! What a token's error code means for the signer: which rung of the recovery ladder it
//! calls for, and its `CKR_…` name for messages.
//!
//! | class | codes | the signer |
//! |---|---|---|
//! | [`Fault::Session`] | `CKR_SESSION_HANDLE_INVALID`, `SESSION_CLOSED`, `OBJECT_HANDLE_INVALID`, `KEY_HANDLE_INVALID`, `OPERATION_ACTIVE` | drops the session, opens a new one, finds the key again |
//! | [`Fault::Login`] | `CKR_USER_NOT_LOGGED_IN` | logs in again, then as above |
//! | [`Fault::Device`] | `CKR_DEVICE_ERROR`, `DEVICE_REMOVED`, `DEVICE_MEMORY`, `TOKEN_NOT_PRESENT`, `TOKEN_NOT_RECOGNIZED`, `CRYPTOKI_NOT_INITIALIZED`, `SLOT_ID_INVALID`, `GENERAL_ERROR`, `FUNCTION_FAILED` | re-initialises the library (unless `reinit = "never"`), finds the token and key again |
//! | [`Fault::Pin`] | `CKR_PIN_INCORRECT`, `PIN_INVALID`, `PIN_LEN_RANGE`, `PIN_EXPIRED`, `PIN_LOCKED` | never logs in again with this PIN (a token locks after a few wrong ones) |
//! | [`Fault::Other`] | anything else (`MECHANISM_INVALID`, `KEY_TYPE_INCONSISTENT`, …) | an error for this signature; nothing to recover |

use cryptoki::error::{Error, RvError};

/// How the recovery ladder treats an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The session is gone: a new session.
    Session,
    /// The login is gone: log in again.
    Login,
    /// The token or the library is gone: re-initialise.
    Device,
    /// The PIN was refused: stop logging in.
    Pin,
    /// Not a fault of the connection.
    Other,
}

/// The class of `e`.
pub fn classify(e: &Error) -> Fault {
    let Error::Pkcs11(rv, _) = e else {
        return Fault::Other;
    };
    use RvError as R;
    match rv {
        R::SessionHandleInvalid
        | R::SessionClosed
        | R::ObjectHandleInvalid
        | R::KeyHandleInvalid
        | R::OperationActive => Fault::Session,
        R::UserNotLoggedIn => Fault::Login,
        R::DeviceError
        | R::DeviceRemoved
        | R::DeviceMemory
        | R::TokenNotPresent
        | R::TokenNotRecognized
        | R::CryptokiNotInitialized
        | R::SlotIdInvalid
        | R::GeneralError
        | R::FunctionFailed => Fault::Device,
        R::PinIncorrect | R::PinInvalid | R::PinLenRange | R::PinExpired | R::PinLocked => {
            Fault::Pin
        }
        _ => Fault::Other,
    }
}

/// `e` as a short message: the function and the `CKR_…` name (`C_Sign: CKR_DEVICE_REMOVED`),
/// or cryptoki's own text for errors that are not return codes.
pub fn describe(e: &Error) -> String {
    match e {
        Error::Pkcs11(rv, function) => format!("C_{function:?}: {}", ckr_name(rv)),
        other => other.to_string(),
    }
}

/// The `CKR_…` name of a return code (`DeviceRemoved` → `CKR_DEVICE_REMOVED`).
pub fn ckr_name(rv: &RvError) -> String {
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR_");
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    #[test]
    fn names_and_classes() {
        assert_eq!(ckr_name(&RvError::DeviceRemoved), "CKR_DEVICE_REMOVED");
        assert_eq!(
            ckr_name(&RvError::UserAlreadyLoggedIn),
            "CKR_USER_ALREADY_LOGGED_IN"
        );
        let e = Error::Pkcs11(RvError::TokenNotPresent, Function::Sign);
        assert_eq!(classify(&e), Fault::Device);
        assert!(
            describe(&e).ends_with("CKR_TOKEN_NOT_PRESENT"),
            "{}",
            describe(&e)
        );
        assert_eq!(
            classify(&Error::Pkcs11(RvError::PinIncorrect, Function::Login)),
            Fault::Pin
        );
    }
}
