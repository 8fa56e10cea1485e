//! Fresh databases for tests that keep a history: a SQLite file in a new folder, or a schema of
//! its own on the machine's PostgreSQL server (as CI has it), so tests never see each other's
//! rows.

use sqlx::AnyPool;

/// The machine's PostgreSQL server (trust auth), as CI has it.
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh, empty SQLite database in a folder that does not exist yet.
pub fn banco_sqlite(nome: &str) -> String {
    let pasta = std::env::temp_dir()
        .join(format!("fila-historico-{}", std::process::id()))
        .join(nome);
    let _ = std::fs::remove_dir_all(&pasta);
    broker::armazenamento::url_padrao(&pasta)
}

/// The schema a test called `nome` uses on the PostgreSQL server.
fn esquema(nome: &str) -> String {
    format!("historico_{}_{nome}", std::process::id())
}

/// A fresh, empty schema on the PostgreSQL server, and the URL that works inside it.
pub async fn banco_postgres(nome: &str) -> String {
    sqlx::any::install_default_drivers();
    let esquema = esquema(nome);
    let pool = AnyPool::connect(POSTGRES)
        .await
        .expect("PostgreSQL is running at 127.0.0.1:5432 (database test)");
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {esquema} CASCADE"))
        .execute(&pool)
        .await
        .expect("drops the old schema");
    sqlx::query(&format!("CREATE SCHEMA {esquema}"))
        .execute(&pool)
        .await
        .expect("creates the schema");
    format!("{POSTGRES}?options=-c%20search_path%3D{esquema}")
}

/// Drops the schema of the test called `nome`, leaving the server as it was.
pub async fn largar_esquema(nome: &str) {
    let pool = AnyPool::connect(POSTGRES).await.expect("connects");
    sqlx::query(&format!("DROP SCHEMA {} CASCADE", esquema(nome)))
        .execute(&pool)
        .await
        .expect("drops the schema");
}
