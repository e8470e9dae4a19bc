//! `zoom-vault`: finishing a key rotation of `ZOOM_TOKEN_KEYS`.
//!
//! ```text
//! zoom-vault report    how many sealed values each key id still protects, per kind
//! zoom-vault reseal    seal every connection under the active key (the first of ZOOM_TOKEN_KEYS)
//! ```
//!
//! It reads `ZOOM_TABLE_NAME` and `ZOOM_TOKEN_KEYS` (and the AWS SDK's usual variables) like the
//! functions do. A rotation: put the new key first in `ZOOM_TOKEN_KEYS` (keep the old ones
//! after it) and deploy; connections in use are re-sealed as they are used; `reseal` does the
//! idle ones; when `report` shows no value under an old key id (OAuth states and the
//! Server-to-Server token expire by themselves within an hour), drop that key.
//! Output is one JSON object per line.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use zoom_shared::config::{Env, vars};
use zoom_shared::connections::{ConnectionStore, DynamoConnections};
use zoom_shared::store::Table;
use zoom_shared::store::item::{Item, text};
use zoom_shared::tokens::provider::owner;
use zoom_shared::tokens::vault::Vault;

/// The sealed attributes of each kind of item.
const SEALED: &[(&str, &str, &[&str])] = &[
    (
        "connection",
        "CONNECTION",
        &["access_token", "refresh_token"],
    ),
    ("s2s_token", "TOKEN", &["access_token"]),
    ("oauth_state", "STATE", &["pkce_verifier"]),
];

async fn scan(table: &Table) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = table
            .client()
            .scan()
            .table_name(table.name())
            .filter_expression("sk IN (:c, :t, :s)")
            .expression_attribute_values(":c", AttributeValue::S("CONNECTION".into()))
            .expression_attribute_values(":t", AttributeValue::S("TOKEN".into()))
            .expression_attribute_values(":s", AttributeValue::S("STATE".into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| zoom_shared::aws::describe_sdk_error(&e))?;
        items.extend(page.items().iter().cloned());
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(items);
        }
    }
}

fn report(vault: &Vault, items: &[Item]) {
    let mut counts: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for item in items {
        let sk = text(item, "sk").unwrap_or_default();
        for (kind, sort_key, fields) in SEALED {
            if sk != *sort_key {
                continue;
            }
            for field in *fields {
                if let Some(sealed) = text(item, field).filter(|s| !s.is_empty()) {
                    let kid = Vault::key_id_of(&sealed).unwrap_or("unknown").to_owned();
                    *counts.entry((kind, kid)).or_default() += 1;
                }
            }
        }
    }
    for ((kind, kid), count) in counts {
        println!(
            "{}",
            json!({"kind": kind, "key_id": kid, "active": kid == vault.active_key_id(), "values": count})
        );
    }
}

async fn reseal(vault: &Vault, table: &Table, items: &[Item]) -> Result<(), String> {
    let connections = DynamoConnections::new(table.clone());
    let (mut resealed, mut current, mut failed) = (0, 0, 0);
    for item in items
        .iter()
        .filter(|i| text(i, "sk").as_deref() == Some("CONNECTION"))
    {
        let Some(tenant) = text(item, "tenant_id") else {
            continue;
        };
        let Some(c) = connections.get(&tenant).await.map_err(|e| e.to_string())? else {
            continue;
        };
        if c.access_token.is_empty()
            || (!vault.needs_rotation(&c.access_token) && !vault.needs_rotation(&c.refresh_token))
        {
            current += 1;
            continue;
        }
        let sealed = vault
            .reseal(&owner(&tenant, "access"), &c.access_token)
            .and_then(|a| {
                vault
                    .reseal(&owner(&tenant, "refresh"), &c.refresh_token)
                    .map(|r| (a, r))
            });
        match sealed {
            Ok((access, refresh)) => {
                if connections
                    .reseal(&tenant, &c.connection_id, c.version, (&access, &refresh))
                    .await
                    .map_err(|e| e.to_string())?
                {
                    resealed += 1;
                } else {
                    // Changed meanwhile (a refresh seals under the active key anyway).
                    current += 1;
                }
            }
            Err(_) => failed += 1,
        }
    }
    println!(
        "{}",
        json!({"resealed": resealed, "already_current": current, "undecryptable": failed})
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let command = std::env::args().nth(1).unwrap_or_default();
    let env = Env::from_process();
    let setup = || -> Result<(Vault, String), String> {
        let vault = Vault::from_env(&env).map_err(|e| e.to_string())?;
        let table = env
            .required(vars::ZOOM_TABLE_NAME)
            .map_err(|e| e.to_string())?
            .to_owned();
        Ok((vault, table))
    };
    let result = async {
        let (vault, table_name) = setup()?;
        let sdk = zoom_shared::aws::load_config().await;
        let table = Table::new(aws_sdk_dynamodb::Client::new(&sdk), table_name);
        let items = scan(&table).await?;
        match command.as_str() {
            "report" => {
                report(&vault, &items);
                Ok(())
            }
            "reseal" => {
                reseal(&vault, &table, &items).await?;
                report(&vault, &scan(&table).await?);
                Ok(())
            }
            _ => Err("usage: zoom-vault report | reseal".to_owned()),
        }
    }
    .await;
    if let Err(error) = result {
        eprintln!("zoom-vault: {error}");
        std::process::exit(1);
    }
}
