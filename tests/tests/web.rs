//! The broker's web listener: the protocol over WebSocket beside TCP (one line for both, the
//! same resumes and limits), the origin check, and the page's files with their security policy.

use std::net::SocketAddr;
use std::time::Duration;

use broker::Config;
use proto::{CodigoErro, DoBroker, MotivoFim, ParaBroker, TAMANHO_MAXIMO_QUADRO};
use tests::ws;
use tests::{Participante, Tomada, config_de_teste, esperar_par, iniciar_broker_com};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;

/// The site allowed to embed the chat in these tests.
const LOJA: &str = "http://loja.exemplo";

fn config_web() -> Config {
    Config {
        web: Some("127.0.0.1:0".parse().expect("valid address")),
        origens: vec![LOJA.to_owned()],
        ..config_de_teste()
    }
}

/// A plain HTTP/1.1 GET of `caminho`: the status line and headers (lowercase), and the body.
async fn obter(endereco: SocketAddr, caminho: &str) -> (String, String) {
    let mut socket = TcpStream::connect(endereco).await.expect("connects");
    let pedido = format!("GET {caminho} HTTP/1.1\r\nHost: {endereco}\r\nConnection: close\r\n\r\n");
    socket.write_all(pedido.as_bytes()).await.expect("writes");
    let mut resposta = String::new();
    socket.read_to_string(&mut resposta).await.expect("reads");
    let (cabecalho, corpo) = resposta.split_once("\r\n\r\n").expect("a whole response");
    (cabecalho.to_ascii_lowercase(), corpo.to_owned())
}

/// The HTTP status a WebSocket request from `origem` gets (101 when it is let in).
async fn status_do_websocket(endereco: SocketAddr, origem: Option<&str>) -> u16 {
    match ws::abrir(endereco, origem).await {
        Ok(_) => 101,
        Err(tungstenite::Error::Http(resposta)) => resposta.status().as_u16(),
        Err(erro) => panic!("unexpected WebSocket error: {erro}"),
    }
}

/// A raw WebSocket to the broker's `/ws`, as tokio-tungstenite opens it.
type WsBruto = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Opens a raw WebSocket to `/ws`, sends `mensagem`, and returns the socket with the broker's
/// first frame, which must be an `Erro`: its code.
async fn erro_em_resposta(
    web: SocketAddr,
    mensagem: tungstenite::Message,
) -> (WsBruto, CodigoErro) {
    use futures::{SinkExt, StreamExt};
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{web}/ws"))
        .await
        .expect("connects");
    ws.send(mensagem).await.expect("sends");
    let resposta = loop {
        match ws.next().await.expect("an answer").expect("readable") {
            tungstenite::Message::Binary(corpo) => break corpo,
            _ => continue,
        }
    };
    let quadro: DoBroker = proto::codec::decodificar(&resposta).expect("a frame");
    match quadro {
        DoBroker::Erro { codigo, .. } => (ws, codigo),
        outro => panic!("an Erro, not {outro:?}"),
    }
}

#[tokio::test]
async fn web_and_terminal_customers_wait_in_one_line_in_arrival_order() {
    let broker = iniciar_broker_com(config_web()).await;
    let (tcp, web) = (
        broker.endereco(),
        broker.endereco_web().expect("serves the web"),
    );
    let mut ana = Participante::cliente_web(web, "Ana", "geral").await;
    ana.esperar_posicao(1).await;
    let mut bia = Participante::cliente(tcp, "Bia", "geral").await;
    bia.esperar_posicao(2).await;
    let mut caio = Participante::cliente_web(web, "Caio", "geral").await;
    caio.esperar_posicao(3).await;

    let mut yuri = Participante::atendente(tcp, "Yuri", &["geral"]).await;
    let conversa = esperar_par(&mut ana, &mut yuri).await;
    bia.esperar_posicao(1).await;
    caio.esperar_posicao(2).await;

    // Both ways, with accents and emoji, over WebSocket on one side and TCP on the other.
    ana.dizer("Olá! Meu pedido não chegou 📦").await;
    yuri.esperar_mensagem_em(conversa, "Ana", "Olá! Meu pedido não chegou 📦")
        .await;
    yuri.dizer_em(conversa, "Já vejo, Ana 🙂 ação imediata")
        .await;
    ana.esperar_mensagem("Yuri", "Já vejo, Ana 🙂 ação imediata")
        .await;

    ana.enviar(ParaBroker::Sair { seq: 0 }).await;
    ana.esperar_fim(MotivoFim::ClienteSaiu).await;
    yuri.esperar_fim(MotivoFim::ClienteSaiu).await;
    esperar_par(&mut bia, &mut yuri).await;
    caio.esperar_posicao(1).await;
    broker.parar().await;
}

#[tokio::test]
async fn a_web_customer_resumes_over_websocket_after_its_network_drops() {
    let config = Config {
        tolerancia_retomada: Duration::from_secs(30),
        ..config_web()
    };
    let broker = iniciar_broker_com(config).await;
    let tomada = Tomada::abrir(broker.endereco_web().expect("serves the web")).await;
    let mut ana = Participante::cliente_web(tomada.endereco(), "Ana", "geral").await;
    let mut yuri = Participante::atendente(broker.endereco(), "Yuri", &["geral"]).await;
    let conversa = esperar_par(&mut ana, &mut yuri).await;

    tomada.cortar();
    yuri.esperar_parceiro(false).await;
    yuri.dizer_em(conversa, "ainda aí?").await;
    yuri.esperar_parceiro(true).await;
    ana.esperar_mensagem("Yuri", "ainda aí?").await;
    ana.dizer("voltei").await;
    yuri.esperar_mensagem_em(conversa, "Ana", "voltei").await;
    broker.parar().await;
}

#[tokio::test]
async fn websocket_origins_are_checked() {
    let broker = iniciar_broker_com(config_web()).await;
    let web = broker.endereco_web().expect("serves the web");
    assert_eq!(
        status_do_websocket(web, Some("http://intruso.exemplo")).await,
        403
    );
    assert_eq!(status_do_websocket(web, Some("null")).await, 403);
    assert_eq!(status_do_websocket(web, Some(LOJA)).await, 101);
    assert_eq!(
        status_do_websocket(web, Some("HTTP://Loja.Exemplo")).await,
        101
    );
    let propria = format!("http://{web}");
    assert_eq!(status_do_websocket(web, Some(&propria)).await, 101);
    // Not a browser: nothing to check against.
    assert_eq!(status_do_websocket(web, None).await, 101);
    broker.parar().await;
}

#[tokio::test]
async fn the_page_and_widget_are_served_with_a_policy_that_names_the_allowed_sites() {
    let broker = iniciar_broker_com(Config {
        departamentos: vec!["geral".into(), "vendas".into()],
        ..config_web()
    })
    .await;
    let web = broker.endereco_web().expect("serves the web");
    let (cabecalho, corpo) = obter(web, "/").await;
    assert!(cabecalho.starts_with("http/1.1 200"), "{cabecalho}");
    assert!(cabecalho.contains("content-type: text/html"), "{cabecalho}");
    let politica = cabecalho
        .lines()
        .find_map(|linha| linha.strip_prefix("content-security-policy: "))
        .expect("a Content-Security-Policy");
    assert!(
        politica.contains("frame-ancestors 'self' http://loja.exemplo"),
        "{politica}"
    );
    assert!(politica.contains("script-src 'self'"), "{politica}");
    assert!(corpo.contains("<html lang=\"pt-BR\">"));

    let (cabecalho, corpo) = obter(web, "/widget.js").await;
    assert!(
        cabecalho.contains("content-type: text/javascript"),
        "{cabecalho}"
    );
    assert!(corpo.contains("data") && corpo.contains("iframe"));
    let (cabecalho, _) = obter(web, "/protocolo.js").await;
    assert!(cabecalho.starts_with("http/1.1 200"), "{cabecalho}");
    let (cabecalho, corpo) = obter(web, "/departamentos").await;
    assert!(
        cabecalho.contains("content-type: application/json"),
        "{cabecalho}"
    );
    let lista: serde_json::Value = serde_json::from_str(&corpo).expect("JSON");
    assert_eq!(
        lista,
        serde_json::json!({ "departamentos": ["geral", "vendas"] })
    );
    let (cabecalho, _) = obter(web, "/../Cargo.toml").await;
    assert!(cabecalho.starts_with("http/1.1 404"), "{cabecalho}");
    broker.parar().await;
}

#[tokio::test]
async fn web_connections_count_toward_the_connection_limits() {
    let config = Config {
        conexoes_por_endereco: 2,
        ..config_web()
    };
    let broker = iniciar_broker_com(config).await;
    let web = broker.endereco_web().expect("serves the web");
    let mut ana = Participante::cliente_web(web, "Ana", "geral").await;
    let _bia = Participante::cliente(broker.endereco(), "Bia", "geral").await;
    assert_eq!(status_do_websocket(web, None).await, 503);
    let (cabecalho, _) = obter(web, "/").await;
    assert!(cabecalho.starts_with("http/1.1 503"), "{cabecalho}");

    // Once Ana's WebSocket session is over, its place is free again.
    ana.enviar(ParaBroker::Sair { seq: 0 }).await;
    ana.esperar_fim(MotivoFim::ClienteSaiu).await;
    ana.esperar_fechamento().await;
    let mut status = 503;
    for _ in 0..200 {
        status = status_do_websocket(web, None).await;
        if status == 101 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status, 101, "a closed WebSocket session still counts");
    broker.parar().await;
}

#[tokio::test]
async fn bad_input_over_websocket_gets_the_same_answers_as_over_tcp() {
    use futures::StreamExt;
    let broker = iniciar_broker_com(config_web()).await;
    let web = broker.endereco_web().expect("serves the web");

    // A message over the frame limit.
    let grande = vec![0u8; TAMANHO_MAXIMO_QUADRO + 1];
    let (_, codigo) = erro_em_resposta(web, tungstenite::Message::Binary(grande.into())).await;
    assert_eq!(codigo, CodigoErro::QuadroGrande);

    // Garbage as the first frame.
    let lixo = tungstenite::Message::Binary(vec![0xff, 0xff].into());
    let (mut ws, codigo) = erro_em_resposta(web, lixo).await;
    assert_eq!(codigo, CodigoErro::QuadroInvalido);
    // Then the broker closes.
    loop {
        match ws.next().await {
            None | Some(Err(_)) | Some(Ok(tungstenite::Message::Close(_))) => break,
            Some(Ok(_)) => continue,
        }
    }
    broker.parar().await;
}

/// Reads one unmasked WebSocket frame of under 64 KiB from the broker: its raw bytes.
async fn quadro_ws_bruto(socket: &mut TcpStream) -> Vec<u8> {
    let mut cabeca = [0u8; 2];
    socket
        .read_exact(&mut cabeca)
        .await
        .expect("a frame header");
    assert_eq!(cabeca[1] & 0x80, 0, "the broker does not mask");
    let mut bruto = cabeca.to_vec();
    let tamanho = match cabeca[1] & 0x7f {
        126 => {
            let mut estendido = [0u8; 2];
            socket.read_exact(&mut estendido).await.expect("a length");
            bruto.extend_from_slice(&estendido);
            usize::from(u16::from_be_bytes(estendido))
        }
        curto => usize::from(curto),
    };
    let mut corpo = vec![0u8; tamanho];
    socket.read_exact(&mut corpo).await.expect("a payload");
    bruto.extend_from_slice(&corpo);
    bruto
}

/// PROTOCOL.md's WebSocket example, byte for byte: Ana's handshake in a message masked with a
/// zero key, and the broker's `Ping` as `82 01 08`.
#[tokio::test]
async fn the_websocket_bytes_of_protocol_md() {
    let broker = iniciar_broker_com(Config {
        intervalo_batimento: Duration::from_millis(100),
        ..config_web()
    })
    .await;
    let web = broker.endereco_web().expect("serves the web");
    let mut socket = TcpStream::connect(web).await.expect("connects");
    let pedido = format!(
        "GET /ws HTTP/1.1\r\nHost: {web}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    socket.write_all(pedido.as_bytes()).await.expect("writes");
    let mut resposta = Vec::new();
    while !resposta.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        socket
            .read_exact(&mut byte)
            .await
            .expect("the upgrade's answer");
        resposta.push(byte[0]);
    }
    assert!(
        resposta.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&resposta)
    );

    let apresentacao = [
        0x82, 0x8f, 0x00, 0x00, 0x00, 0x00, // binary, masked, 15 bytes, key 00 00 00 00
        0x00, 0x0c, 0x03, 0x41, 0x6e, 0x61, 0x00, 0x05, 0x67, 0x65, 0x72, 0x61, 0x6c, 0x00, 0x00,
    ];
    socket.write_all(&apresentacao).await.expect("writes");
    let bemvindo = quadro_ws_bruto(&mut socket).await;
    assert_eq!(&bemvindo[..1], &[0x82], "a binary message");
    assert_eq!(bemvindo[2], 0x00, "BemVindo comes first");
    loop {
        let quadro = quadro_ws_bruto(&mut socket).await;
        if quadro[2..] == [0x08] {
            assert_eq!(quadro, [0x82, 0x01, 0x08]);
            break;
        }
    }
    broker.parar().await;
}

#[tokio::test]
async fn a_text_message_gets_quadro_invalido_and_the_close() {
    let broker = iniciar_broker_com(config_web()).await;
    let web = broker.endereco_web().expect("serves the web");
    let texto = tungstenite::Message::text("{\"nome\":\"Ana\"}");
    let (_, codigo) = erro_em_resposta(web, texto).await;
    assert_eq!(codigo, CodigoErro::QuadroInvalido);
    broker.parar().await;
}

#[tokio::test]
async fn a_session_started_over_websocket_resumes_over_tcp() {
    use futures::{SinkExt, StreamExt};
    let broker = iniciar_broker_com(Config {
        tolerancia_retomada: Duration::from_secs(30),
        ..config_web()
    })
    .await;
    let web = broker.endereco_web().expect("serves the web");
    let fluxo = ws::abrir(web, None).await.expect("opens");
    let apresentacao = proto::Apresentacao::cliente("Ana", "geral");
    let mut pela_web = proto::enquadrar::<_, DoBroker, ParaBroker>(fluxo, TAMANHO_MAXIMO_QUADRO);
    pela_web
        .send(ParaBroker::Apresentacao(apresentacao.clone()))
        .await
        .expect("sends");
    let Some(Ok(DoBroker::BemVindo { sessao, ficha, .. })) = pela_web.next().await else {
        panic!("a BemVindo");
    };
    drop(pela_web);
    let retomada = proto::Apresentacao {
        retomar: Some(proto::Retomada {
            ficha,
            recebidos: 0,
        }),
        ..apresentacao
    };
    let por_tcp = proto::Conexao::conectar(broker.endereco(), retomada)
        .await
        .expect("Ana resumes over TCP");
    // (The handle's summary of its `BemVindo` keeps only the session's id: the same id is the
    // same session, as a new one would get the next.)
    let DoBroker::BemVindo {
        sessao: de_novo, ..
    } = por_tcp.bemvindo()
    else {
        panic!("a BemVindo");
    };
    assert_eq!(de_novo, sessao);
    broker.parar().await;
}
