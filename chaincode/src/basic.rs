//! `basic`: Fabric's asset-transfer-basic sample (chaincode-go), same functions, errors and JSON.

use serde::{Deserialize, Serialize};

use crate::args;
use crate::error::ChaincodeError;
use crate::stub::{Chaincode, Stub};

/// The name `basic` is registered under.
pub const NAME: &str = "basic";

/// An asset. Fields are declared (and so serialized) in the sample's order, which is alphabetical.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// The appraised value.
    #[serde(rename = "AppraisedValue")]
    pub appraised_value: i64,
    /// The colour.
    #[serde(rename = "Color")]
    pub color: String,
    /// The id, also the state key.
    #[serde(rename = "ID")]
    pub id: String,
    /// The owner.
    #[serde(rename = "Owner")]
    pub owner: String,
    /// The size.
    #[serde(rename = "Size")]
    pub size: i64,
}

/// The asset-transfer-basic chaincode.
#[derive(Debug, Clone, Copy, Default)]
pub struct Basic;

impl Chaincode for Basic {
    fn invoke(&self, stub: &mut dyn Stub) -> Result<Vec<u8>, ChaincodeError> {
        let function = stub.function();
        let f = function.as_str();
        let a = stub.args();
        match f {
            "InitLedger" => {
                args::expect(f, a, [])?;
                init_ledger(stub)
            }
            "CreateAsset" | "UpdateAsset" => {
                let [id, color, size, owner, value] =
                    args::expect(f, a, ["id", "color", "size", "owner", "appraisedValue"])?;
                let asset = Asset {
                    size: args::int(f, "size", &size)?,
                    appraised_value: args::int(f, "appraisedValue", &value)?,
                    id,
                    color,
                    owner,
                };
                let exists = asset_exists(stub, &asset.id)?;
                if f == "CreateAsset" && exists {
                    return Err(ChaincodeError::msg(format!(
                        "the asset {} already exists",
                        asset.id
                    )));
                }
                if f == "UpdateAsset" && !exists {
                    return Err(does_not_exist(&asset.id));
                }
                put_asset(stub, &asset)?;
                Ok(Vec::new())
            }
            "ReadAsset" => {
                let [id] = args::expect(f, a, ["id"])?;
                to_json(&read_asset(stub, &id)?)
            }
            "DeleteAsset" => {
                let [id] = args::expect(f, a, ["id"])?;
                if !asset_exists(stub, &id)? {
                    return Err(does_not_exist(&id));
                }
                stub.del_state(&id)?;
                Ok(Vec::new())
            }
            "AssetExists" => {
                let [id] = args::expect(f, a, ["id"])?;
                Ok(asset_exists(stub, &id)?.to_string().into_bytes())
            }
            "TransferAsset" => {
                let [id, new_owner] = args::expect(f, a, ["id", "newOwner"])?;
                let mut asset = read_asset(stub, &id)?;
                let old_owner = std::mem::replace(&mut asset.owner, new_owner);
                put_asset(stub, &asset)?;
                Ok(old_owner.into_bytes())
            }
            "GetAllAssets" => {
                args::expect(f, a, [])?;
                let assets = stub
                    .get_state_by_range("", "")?
                    .into_iter()
                    .map(|(key, value)| parse_asset(&key, &value))
                    .collect::<Result<Vec<_>, _>>()?;
                to_json(&assets)
            }
            _ => Err(args::unknown_function(f, NAME)),
        }
    }
}

/// The six sample assets `InitLedger` writes.
pub fn sample_assets() -> Vec<Asset> {
    [
        ("asset1", "blue", 5, "Tomoko", 300),
        ("asset2", "red", 5, "Brad", 400),
        ("asset3", "green", 10, "Jin Soo", 500),
        ("asset4", "yellow", 10, "Max", 600),
        ("asset5", "black", 15, "Adriana", 700),
        ("asset6", "white", 15, "Michel", 800),
    ]
    .into_iter()
    .map(|(id, color, size, owner, appraised_value)| Asset {
        appraised_value,
        color: color.to_owned(),
        id: id.to_owned(),
        owner: owner.to_owned(),
        size,
    })
    .collect()
}

fn init_ledger(stub: &mut dyn Stub) -> Result<Vec<u8>, ChaincodeError> {
    for asset in sample_assets() {
        put_asset(stub, &asset)?;
    }
    Ok(Vec::new())
}

fn asset_exists(stub: &mut dyn Stub, id: &str) -> Result<bool, ChaincodeError> {
    Ok(stub.get_state(id)?.is_some())
}

fn read_asset(stub: &mut dyn Stub, id: &str) -> Result<Asset, ChaincodeError> {
    let bytes = stub.get_state(id)?.ok_or_else(|| does_not_exist(id))?;
    parse_asset(id, &bytes)
}

fn put_asset(stub: &mut dyn Stub, asset: &Asset) -> Result<(), ChaincodeError> {
    stub.put_state(&asset.id, to_json(asset)?)
}

fn parse_asset(key: &str, bytes: &[u8]) -> Result<Asset, ChaincodeError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ChaincodeError::msg(format!("the asset {key} is not valid asset JSON: {e}")))
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ChaincodeError> {
    serde_json::to_vec(value)
        .map_err(|e| ChaincodeError::msg(format!("failed to encode JSON: {e}")))
}

fn does_not_exist(id: &str) -> ChaincodeError {
    ChaincodeError::msg(format!("the asset {id} does not exist"))
}
