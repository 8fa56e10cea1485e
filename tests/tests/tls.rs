//! TLS end to end: a broker serving TLS with a certificate from a test CA, clients that trust
//! that CA, and what happens to those that do not speak TLS or lack an agent token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use broker::Config;
use futures::StreamExt;
use proto::tls::configuracao_servidor;
use proto::{Apresentacao, CodigoErro, Conexao, DoBroker, ErroConexao};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tests::{TOKEN_DE_TESTE, config_de_teste, iniciar_broker_com};

/// A test CA and a certificate it signed for localhost and 127.0.0.1, written as PEM files.
struct Certificados {
    pasta: PathBuf,
}

impl Certificados {
    fn gerar(nome: &str) -> Certificados {
        let pasta = std::env::temp_dir().join(format!("fila-tls-{nome}-{}", std::process::id()));
        std::fs::create_dir_all(&pasta).expect("creates a folder");
        let mut parametros_ca = CertificateParams::new(Vec::<String>::new()).expect("params");
        parametros_ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(parametros_ca, KeyPair::generate().expect("key"))
            .expect("CA");
        let chave = KeyPair::generate().expect("key");
        let certificado = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("params")
            .signed_by(&chave, &ca)
            .expect("signed");
        std::fs::write(pasta.join("ca.pem"), ca.pem()).expect("writes");
        std::fs::write(pasta.join("broker.pem"), certificado.pem()).expect("writes");
        std::fs::write(pasta.join("broker.key"), chave.serialize_pem()).expect("writes");
        Certificados { pasta }
    }

    fn ca(&self) -> PathBuf {
        self.pasta.join("ca.pem")
    }

    fn config(&self) -> Config {
        let tls = configuracao_servidor(
            &self.pasta.join("broker.pem"),
            &self.pasta.join("broker.key"),
        )
        .expect("the broker's TLS configuration");
        Config {
            tls: Some(Arc::clone(&tls)),
            ..config_de_teste()
        }
    }
}

impl Drop for Certificados {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.pasta);
    }
}

/// The next frame that is not a status update.
async fn proximo(eventos: &mut proto::Eventos) -> Option<DoBroker> {
    loop {
        match eventos.next().await {
            Some(Ok(DoBroker::Espera { .. } | DoBroker::Fila { .. })) => continue,
            outro => return outro.map(|r| r.expect("reads")),
        }
    }
}

async fn conectar_tls(
    endereco: &str,
    ca: Option<&Path>,
    apresentacao: Apresentacao,
) -> Result<Conexao, ErroConexao> {
    Conexao::conectar_tls(endereco, ca, apresentacao).await
}

#[tokio::test]
async fn conversa_sobre_tls() {
    let certificados = Certificados::gerar("conversa");
    let broker = iniciar_broker_com(certificados.config()).await;
    let endereco = format!("localhost:{}", broker.endereco().port());
    let ca = certificados.ca();

    let mut yuri = conectar_tls(
        &endereco,
        Some(&ca),
        Apresentacao::atendente("Yuri", vec!["geral".into()], TOKEN_DE_TESTE),
    )
    .await
    .expect("the agent connects over TLS");
    let mut ana = conectar_tls(&endereco, Some(&ca), Apresentacao::cliente("Ana", "geral"))
        .await
        .expect("the customer connects over TLS");
    assert!(matches!(
        proximo(&mut ana.eventos).await,
        Some(DoBroker::Conectado { .. })
    ));
    assert!(matches!(
        proximo(&mut yuri.eventos).await,
        Some(DoBroker::Conectado { .. })
    ));
    ana.envio
        .mensagem(1, "olá, com sigilo")
        .await
        .expect("sends");
    assert_eq!(
        proximo(&mut yuri.eventos).await,
        Some(DoBroker::Mensagem {
            conversa: 1,
            de: "Ana".into(),
            texto: "olá, com sigilo".into()
        })
    );

    // Over TLS too, a customer connection cannot become an agent without the token.
    let sem_token = conectar_tls(
        &endereco,
        Some(&ca),
        Apresentacao::atendente("Zé", vec!["geral".into()], "errado"),
    )
    .await;
    assert!(matches!(
        sem_token,
        Err(ErroConexao::Recusada {
            codigo: CodigoErro::NaoAutorizado,
            ..
        })
    ));
    broker.parar().await;
}

#[tokio::test]
async fn sem_tls_ou_sem_confianca_nao_entra() {
    let certificados = Certificados::gerar("recusa");
    let broker = iniciar_broker_com(certificados.config()).await;
    let porta = broker.endereco().port();

    // Plain TCP to a TLS broker: no welcome.
    let simples =
        Conexao::conectar(("127.0.0.1", porta), Apresentacao::cliente("Ana", "geral")).await;
    assert!(simples.is_err(), "a plain connection must not be welcomed");
    // TLS without trusting the test CA: the certificate is refused.
    let desconfiado = conectar_tls(
        &format!("localhost:{porta}"),
        None,
        Apresentacao::cliente("Ana", "geral"),
    )
    .await;
    assert!(
        matches!(desconfiado, Err(ErroConexao::Io(_))),
        "{:?}",
        desconfiado.err()
    );
    // The right CA but the wrong name: refused too.
    let outro_nome = conectar_tls(
        &format!("127.0.0.2:{porta}"),
        Some(&certificados.ca()),
        Apresentacao::cliente("Ana", "geral"),
    )
    .await;
    assert!(outro_nome.is_err());
    broker.parar().await;
}

#[tokio::test]
async fn a_web_customer_chats_over_wss_with_a_terminal_agent() {
    use proto::websocket::FluxoWs;
    use tests::ws::Tungstenite;

    let certificados = Certificados::gerar("wss");
    let broker = iniciar_broker_com(Config {
        web: Some("127.0.0.1:0".parse().expect("valid address")),
        ..certificados.config()
    })
    .await;
    let web = broker.endereco_web().expect("serves the web");

    // A browser's way: TLS to the web port, checking the certificate, then the WebSocket.
    let socket = tokio::net::TcpStream::connect(web).await.expect("connects");
    let config = proto::tls::configuracao_cliente(Some(&certificados.ca())).expect("client TLS");
    let nome = proto::tls::nome_do_servidor(&format!("localhost:{}", web.port())).expect("name");
    let tls = proto::tls::TlsConnector::from(config)
        .connect(nome, socket)
        .await
        .expect("the TLS handshake");
    let url = format!("wss://localhost:{}/ws", web.port());
    let (ws, _) = tokio_tungstenite::client_async(url, tls)
        .await
        .expect("the WebSocket handshake over TLS");
    let apresentacao = Apresentacao::cliente("Ana", "geral");
    let fluxo = FluxoWs::<_, Tungstenite>::new(ws);
    let mut ana = Conexao::sobre(fluxo, apresentacao, proto::TAMANHO_MAXIMO_QUADRO)
        .await
        .expect("Ana gets in over wss");

    let atendente = Apresentacao::atendente("Yuri", vec!["geral".into()], TOKEN_DE_TESTE);
    let endereco = format!("localhost:{}", broker.endereco().port());
    let mut yuri = conectar_tls(&endereco, Some(&certificados.ca()), atendente)
        .await
        .expect("Yuri gets in over TLS");
    assert!(matches!(
        proximo(&mut ana.eventos).await,
        Some(DoBroker::Conectado { .. })
    ));
    let Some(DoBroker::Conectado { conversa, .. }) = proximo(&mut yuri.eventos).await else {
        panic!("Yuri is paired");
    };
    ana.envio
        .mensagem(0, "olá por wss 🔒")
        .await
        .expect("sends");
    loop {
        match proximo(&mut yuri.eventos).await {
            Some(DoBroker::Mensagem { texto, .. }) => {
                assert_eq!(texto, "olá por wss 🔒");
                break;
            }
            Some(_) => continue,
            None => panic!("Yuri's connection closed"),
        }
    }
    yuri.envio
        .mensagem(conversa, "recebido")
        .await
        .expect("sends");

    // Plain HTTP to a TLS broker's web port gets no page.
    let mut plano = tokio::net::TcpStream::connect(web).await.expect("connects");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    plano
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("writes");
    let mut resposta = Vec::new();
    let _ = plano.read_to_end(&mut resposta).await;
    assert!(
        !resposta.starts_with(b"HTTP/1.1 200"),
        "a TLS broker served plain HTTP"
    );
    broker.parar().await;
}
