//! The customer's web page: the JavaScript client's unit tests under Node's test runner, and the
//! page in a real browser: Debian's Chromium, driven by playwright-core from
//! `web/e2e/conversa.mjs`, against a broker started here and a scripted `atendente --json`.
//! The script chats both ways with accents and emoji, reloads the page mid-chat, has the agent
//! end the chat and the customer rate it, and checks that other origins are refused and that
//! the widget works on an allowed site. `.ci/run` installs Chromium; the npm packages come from
//! `web/package-lock.json` (`npm ci`, run here when they are missing).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use broker::Config;
use tests::{TOKEN_DE_TESTE, Tomada, config_de_teste, construir_apps, iniciar_broker_com};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;

/// The repository's `web/` folder.
fn pasta_web() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web")
}

/// Installs the page's npm packages from the lock file when they are not there yet.
fn instalar_pacotes(web: &Path) {
    if web.join("node_modules/playwright-core").is_dir() {
        return;
    }
    let saida = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(web)
        .output()
        .expect("npm runs (Node.js 20 with npm is part of the machine)");
    assert!(
        saida.status.success(),
        "npm ci falhou:\n{}",
        String::from_utf8_lossy(&saida.stderr)
    );
}

/// Debian's Chromium, or the one `CHROMIUM` names.
fn chromium() -> PathBuf {
    let caminho =
        std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from);
    assert!(
        caminho.exists(),
        "Chromium não encontrado em {}: instale-o (apt-get install chromium; .ci/run o faz) ou \
         aponte CHROMIUM para ele",
        caminho.display()
    );
    caminho
}

/// Runs the browser script to its end, doing to the relay what it asks for; returns its exit
/// status and everything it printed.
async fn conduzir(mut processo: Child, tomada: &Tomada) -> (ExitStatus, String) {
    let mut entrada = processo.stdin.take().expect("piped");
    let mut linhas = BufReader::new(processo.stdout.take().expect("piped")).lines();
    let mut erros = processo.stderr.take().expect("piped");
    let mut saida = String::new();
    while let Ok(Some(linha)) = linhas.next_line().await {
        match linha.as_str() {
            "pedido:derrubar" => tomada.derrubar(),
            "pedido:religar" => tomada.religar(),
            _ => {
                saida.push_str(&linha);
                saida.push('\n');
                continue;
            }
        }
        entrada
            .write_all(b"feito\n")
            .await
            .expect("the script reads");
    }
    let mut texto = String::new();
    let _ = erros.read_to_string(&mut texto).await;
    saida.push_str(&texto);
    (processo.wait().await.expect("node ends"), saida)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_in_the_browser_chats_reloads_and_rates_and_other_sites_are_refused() {
    let binarios = construir_apps();
    let web = pasta_web();
    instalar_pacotes(&web);
    let navegador = chromium();
    let broker = iniciar_broker_com(Config {
        web: Some("127.0.0.1:0".parse().expect("valid address")),
        origens: vec!["http://loja.exemplo".into()],
        departamentos: vec!["geral".into(), "vendas".into()],
        tolerancia_retomada: Duration::from_secs(60),
        prazo_avaliacao: Duration::from_secs(120),
        ..config_de_teste()
    })
    .await;
    let capturas = Path::new(env!("CARGO_TARGET_TMPDIR")).join("capturas-web");
    std::fs::create_dir_all(&capturas).expect("a folder for the screenshots");

    // The browser reaches the broker through a relay the script asks the test to cut.
    let tomada = Tomada::abrir(broker.endereco_web().expect("web")).await;
    let mut script = tokio::process::Command::new("node");
    script
        .arg("e2e/conversa.mjs")
        .current_dir(&web)
        .env("BROKER_WEB", format!("http://{}", tomada.endereco()))
        .env("BROKER_TCP", broker.endereco().to_string())
        .env("ATENDENTE", binarios.join("atendente"))
        .env("TOKEN", TOKEN_DE_TESTE)
        .env("CHROMIUM", &navegador)
        .env("CAPTURAS", &capturas)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let processo = script.spawn().expect("node runs");
    let conduzido = tokio::time::timeout(Duration::from_secs(180), conduzir(processo, &tomada));
    let (status, saida) = conduzido
        .await
        .expect("the browser script finishes in time");
    assert!(status.success(), "o roteiro do navegador falhou:\n{saida}");
    for captura in [
        "entrada",
        "fila",
        "conversa",
        "reconectando",
        "avaliacao",
        "fim",
        "widget",
    ] {
        assert!(
            capturas.join(format!("{captura}.png")).is_file(),
            "{captura}.png"
        );
    }
    broker.parar().await;
}

/// The JavaScript client's own tests (`npm test` in `web/`: every byte example of PROTOCOL.md
/// decoded and encoded, and the session's resumes and outbox against a fake WebSocket).
#[test]
fn the_javascript_client_passes_its_unit_tests() {
    let saida = Command::new("node")
        .args(["--test", "test/"])
        .current_dir(pasta_web())
        .output()
        .expect("node runs (Node.js 20 is part of the machine)");
    let relatorio = String::from_utf8_lossy(&saida.stdout);
    assert!(
        saida.status.success(),
        "os testes do cliente JavaScript falharam:\n{relatorio}"
    );
    let passaram = relatorio
        .lines()
        .find_map(|linha| linha.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .expect("node prints how many passed");
    assert!(
        passaram >= 90,
        "only {passaram} JavaScript tests ran:\n{relatorio}"
    );
}
