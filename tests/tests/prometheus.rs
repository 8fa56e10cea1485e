//! The broker's metrics as Prometheus sees them: Debian's `prometheus` server (which `.ci/run`
//! installs) scrapes a broker under a short load, and its HTTP API must report the customers
//! the test left waiting and the ones it had answered, and the history's commits; `promtool
//! check metrics` must accept the broker's output.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::{Participante, construir_apps};

/// How long Prometheus gets to scrape what the test caused.
const PRAZO: Duration = Duration::from_secs(60);

/// A child process killed when the test ends, however it ends.
struct Processo(Child);

impl Drop for Processo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nobody listens on now.
fn porta_livre() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|ouvinte| ouvinte.local_addr())
        .expect("a free port")
        .port()
}

/// A plain HTTP GET of `caminho` on `endereco`: the status code and the body.
fn get(endereco: SocketAddr, caminho: &str) -> std::io::Result<(u16, String)> {
    let mut socket = TcpStream::connect_timeout(&endereco, Duration::from_secs(5))?;
    socket.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        socket,
        "GET {caminho} HTTP/1.0\r\nHost: {endereco}\r\nConnection: close\r\n\r\n"
    )?;
    let mut resposta = String::new();
    socket.read_to_string(&mut resposta)?;
    let (cabecalho, corpo) = resposta.split_once("\r\n\r\n").unwrap_or((&resposta, ""));
    let status = cabecalho
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, corpo.to_owned()))
}

/// `texto` percent-encoded for a URL's query.
fn codificar(texto: &str) -> String {
    texto
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Starts the broker binary with metrics at `metricas`; returns it and where it listens.
fn iniciar_broker(pasta: &Path, metricas: SocketAddr, dados: &Path) -> (Processo, SocketAddr) {
    let mut filho = Command::new(pasta.join("broker"))
        .args(["--escutar", "127.0.0.1:0", "--departamentos"])
        .args(["geral,vendas", "--intervalo-fila", "10ms"])
        .args([
            "--token-atendente",
            tests::TOKEN_DE_TESTE,
            "--token-supervisor",
            "s",
        ])
        .arg("--metricas")
        .arg(metricas.to_string())
        .arg("--dados")
        .arg(dados)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the broker starts");
    let saida = filho.stdout.take().expect("piped");
    let mut linhas = BufReader::new(saida).lines();
    let endereco = linhas
        .by_ref()
        .map_while(Result::ok)
        .find_map(|linha| {
            let resto = linha.strip_prefix("Broker ouvindo em ")?;
            resto.split_whitespace().next()?.parse().ok()
        })
        .expect("the broker says where it listens");
    // Keep reading its output, so it never blocks on a full pipe.
    std::thread::spawn(move || linhas.for_each(drop));
    (Processo(filho), endereco)
}

/// Starts Prometheus scraping `alvo` every second, with its storage in `pasta`.
fn iniciar_prometheus(pasta: &Path, alvo: SocketAddr, web: SocketAddr) -> Processo {
    let config = pasta.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  \
             - job_name: fila\n    static_configs:\n      - targets: ['{alvo}']\n"
        ),
    )
    .expect("writes the configuration");
    let filho = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            pasta.join("dados").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "Debian's prometheus is installed (.ci/run installs it: apt-get install prometheus)",
        );
    Processo(filho)
}

/// The value Prometheus reports for `consulta`, once it has one equal to `esperado`; fails
/// with the last answer when the deadline passes first.
fn esperar_valor(prometheus: SocketAddr, consulta: &str, esperado: &str) {
    let caminho = format!("/api/v1/query?query={}", codificar(consulta));
    let inicio = Instant::now();
    let mut ultima = String::new();
    while inicio.elapsed() < PRAZO {
        if let Ok((200, corpo)) = get(prometheus, &caminho) {
            let resposta: Value = serde_json::from_str(&corpo).expect("Prometheus answers JSON");
            let valor = &resposta["data"]["result"][0]["value"][1];
            if valor == esperado {
                return;
            }
            ultima = corpo;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{consulta} não chegou a {esperado}; última resposta: {ultima}");
}

#[tokio::test(flavor = "multi_thread")]
async fn o_prometheus_ve_a_fila_e_os_atendidos() {
    let pasta = construir_apps();
    let temporaria = std::env::temp_dir().join(format!("fila-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temporaria);
    std::fs::create_dir_all(&temporaria).expect("creates a folder");
    let metricas: SocketAddr = format!("127.0.0.1:{}", porta_livre())
        .parse()
        .expect("address");
    let (_broker, endereco) = iniciar_broker(&pasta, metricas, &temporaria);

    // vendas: Ana is answered by Yuri; Bia and Caio wait. geral: nobody.
    let mut yuri = Participante::atendente(endereco, "Yuri", &["vendas"]).await;
    let mut ana = Participante::cliente(endereco, "Ana", "vendas").await;
    ana.esperar_conexao_com("Yuri").await;
    yuri.esperar_conexao_com("Ana").await;
    let mut bia = Participante::cliente(endereco, "Bia", "vendas").await;
    bia.esperar_posicao(1).await;
    let mut caio = Participante::cliente(endereco, "Caio", "vendas").await;
    caio.esperar_posicao(2).await;

    let web: SocketAddr = format!("127.0.0.1:{}", porta_livre())
        .parse()
        .expect("address");
    let _prometheus = iniciar_prometheus(&temporaria, metricas, web);
    let consultas = tokio::task::spawn_blocking(move || {
        esperar_valor(
            web,
            r#"fila_clientes_aguardando{departamento="vendas"}"#,
            "2",
        );
        esperar_valor(
            web,
            r#"fila_clientes_atendidos_total{departamento="vendas"}"#,
            "1",
        );
        esperar_valor(
            web,
            r#"fila_clientes_oferecidos_total{departamento="vendas"}"#,
            "3",
        );
        esperar_valor(
            web,
            r#"fila_atendentes_em_conversa{departamento="vendas"}"#,
            "1",
        );
        esperar_valor(
            web,
            r#"fila_clientes_aguardando{departamento="geral"}"#,
            "0",
        );
    });
    consultas.await.expect("Prometheus saw the figures");

    // The broker's own output passes Prometheus's linter.
    let (status, corpo) = get(metricas, "/metrics").expect("the broker serves its metrics");
    assert_eq!(status, 200);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed with prometheus");
    promtool
        .stdin
        .take()
        .expect("piped")
        .write_all(corpo.as_bytes())
        .expect("writes");
    let saida = promtool.wait_with_output().expect("promtool runs");
    assert!(
        saida.status.success(),
        "promtool check metrics recusou a saída:\n{}{}",
        String::from_utf8_lossy(&saida.stdout),
        String::from_utf8_lossy(&saida.stderr)
    );
    let _ = std::fs::remove_dir_all(&temporaria);
}
