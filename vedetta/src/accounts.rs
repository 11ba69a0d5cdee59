//! `vedetta users …` and `vedetta tokens …`: accounts and API tokens from the command line (the same store as the
//! admins' REST, `webmap::auth`). Secrets (a generated password, a new token) are printed once, on stdout.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Subcommand;
use webmap::auth::account::{self, NewAccount};
use webmap::auth::token::{self, NewToken};
use webmap::auth::{Grant, Role};

use crate::config::Config;
use crate::database::{Database, Owner};

/// Accounts.
#[derive(Debug, Subcommand)]
pub enum Users {
    /// Creates an account; without --password-stdin a password is generated and printed once.
    Add {
        /// The login name (2–63 of a-z 0-9 . _ @ -).
        username: String,
        /// The name shown to others.
        #[arg(long)]
        name: String,
        /// The email address.
        #[arg(long)]
        email: Option<String>,
        /// The role: citizen, councillor, operator, civil_protection, planner or admin.
        #[arg(long, default_value = "citizen", value_parser = parse_role)]
        role: Role,
        /// An ISTAT code of a comune the role holds on (repeat for several; needed for operator and councillor;
        /// none: every comune).
        #[arg(long = "comune", value_name = "ISTAT")]
        comuni: Vec<String>,
        /// Reads the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lists the accounts with their roles.
    List,
    /// Disables an account: its sessions end and its tokens stop working.
    Disable {
        /// The login name.
        username: String,
    },
}

/// API tokens.
#[derive(Debug, Subcommand)]
pub enum Tokens {
    /// Creates a token and prints it once: with a role (on the given comuni) or for an account (its grants).
    Create {
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// The role of the token.
        #[arg(long, value_parser = parse_role, conflicts_with = "user", required_unless_present = "user")]
        role: Option<Role>,
        /// An ISTAT code of a comune the role holds on (repeat for several; none: every comune).
        #[arg(long = "comune", value_name = "ISTAT", requires = "role")]
        comuni: Vec<String>,
        /// The account the token acts for (its login name).
        #[arg(long, value_name = "USERNAME")]
        user: Option<String>,
    },
    /// Revokes a token by its id.
    Revoke {
        /// The token's id (as listed by GET /api/tokens).
        id: i64,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.to_string())
}

/// Runs `vedetta users …` against the configured database (or the private cluster of the data dir).
pub async fn users(command: Users, config: Config) -> anyhow::Result<()> {
    let db = Database::open(&config, Owner::Command("vedetta users")).await?;
    let result = async {
        ::database::migrate(&db.pool).await.context("while migrating the database")?;
        match command {
            Users::Add { username, name, email, role, comuni, password_stdin } => {
                let (password, generated) = if password_stdin {
                    (read_password()?, false)
                } else {
                    (account::generate_password(), true)
                };
                let grants = if comuni.is_empty() {
                    vec![Grant::new(role, None)]
                } else {
                    comuni.iter().map(|c| Grant::new(role, Some(c))).collect()
                };
                let new = NewAccount {
                    username,
                    display_name: name,
                    email,
                    password: Some(password.clone()),
                    grants,
                };
                let created = account::create(&db.pool, &new).await?;
                println!(
                    "creato / created  {} (id {}): {}",
                    created.username,
                    created.id,
                    grants_text(&created.grants)
                );
                if generated {
                    println!("password (mostrata una volta / shown once): {password}");
                }
                Ok(())
            }
            Users::List => {
                let mut offset = 0;
                loop {
                    let (page, total) = account::list(&db.pool, 1000, offset).await?;
                    for a in &page {
                        println!(
                            "{:>6}  {:<24} {:<28} {:<8} {}",
                            a.id,
                            a.username,
                            a.display_name,
                            if a.disabled_at.is_some() { "disabled" } else { "active" },
                            grants_text(&a.grants)
                        );
                    }
                    offset += page.len() as i64;
                    if page.is_empty() || offset >= total {
                        break;
                    }
                }
                Ok(())
            }
            Users::Disable { username } => {
                let Some(found) = account::by_username(&db.pool, &username).await? else {
                    bail!("there is no account `{username}`");
                };
                let update = account::AccountUpdate { disabled: Some(true), ..Default::default() };
                account::update(&db.pool, found.id, &update).await?;
                println!("disabilitato / disabled  {}", found.username);
                Ok(())
            }
        }
    }
    .await;
    db.close().await?;
    result
}

/// Runs `vedetta tokens …` against the configured database (or the private cluster of the data dir).
pub async fn tokens(command: Tokens, config: Config) -> anyhow::Result<()> {
    let db = Database::open(&config, Owner::Command("vedetta tokens")).await?;
    let result = async {
        ::database::migrate(&db.pool).await.context("while migrating the database")?;
        match command {
            Tokens::Create { name, role, comuni, user } => {
                let account_id = match &user {
                    Some(username) => match account::by_username(&db.pool, username).await? {
                        Some(a) => Some(a.id),
                        None => bail!("there is no account `{username}`"),
                    },
                    None => None,
                };
                let created = token::create(&db.pool, &NewToken { name, role, comuni, account_id }).await?;
                let powers = match &user {
                    Some(username) => format!("account {username}"),
                    None if created.info.comuni.is_empty() => format!("{} (every comune)", created.info.role),
                    None => format!("{} ({})", created.info.role, created.info.comuni.join(", ")),
                };
                println!("creato / created  token {} \"{}\": {powers}", created.info.id, created.info.name);
                println!("token (mostrato una volta / shown once): {}", created.token);
                Ok(())
            }
            Tokens::Revoke { id } => {
                if !token::revoke(&db.pool, id).await? {
                    bail!("there is no token {id}");
                }
                println!("revocato / revoked  token {id}");
                Ok(())
            }
        }
    }
    .await;
    db.close().await?;
    result
}

/// The first line of standard input, without its line end.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("while reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

fn grants_text(grants: &[Grant]) -> String {
    if grants.is_empty() {
        return "-".into();
    }
    grants
        .iter()
        .map(|g| match &g.comune {
            Some(c) => format!("{}@{c}", g.role),
            None => g.role.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
