//! Argument checking shared by the built-in chaincodes, with errors naming function and argument.

use crate::error::ChaincodeError;

/// The arguments of `function`, which must be exactly `names.len()` of them.
pub(crate) fn expect<const N: usize>(
    function: &str,
    args: Vec<String>,
    names: [&str; N],
) -> Result<[String; N], ChaincodeError> {
    let got = args.len();
    args.try_into().map_err(|_| {
        ChaincodeError::msg(format!(
            "{function}: expected {N} argument{} ({}), got {got}",
            if N == 1 { "" } else { "s" },
            names.join(", ")
        ))
    })
}

/// Argument `name` of `function` parsed as an integer.
pub(crate) fn int(function: &str, name: &str, value: &str) -> Result<i64, ChaincodeError> {
    value.parse().map_err(|_| {
        ChaincodeError::msg(format!(
            "{function}: argument {name} must be an integer, got {value:?}"
        ))
    })
}

/// The error for a function the chaincode does not have.
pub(crate) fn unknown_function(function: &str, chaincode: &str) -> ChaincodeError {
    ChaincodeError::msg(format!(
        "function {function} not found in chaincode {chaincode}"
    ))
}
