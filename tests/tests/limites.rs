//! Limits and security: each limit and each fault gets a clear error or a clean close, while a
//! real pair on the same broker keeps chatting and loses nothing.

use std::net::SocketAddr;
use std::time::Duration;

use broker::Config;
use futures::StreamExt;
use proto::{Apresentacao, CodigoErro, Conexao, DoBroker, ErroConexao, MotivoFim, ParaBroker};
use tests::{Bruto, Par, Participante, TOKEN_DE_TESTE, config_de_teste, iniciar_broker_com};
use tokio::net::TcpSocket;

async fn recusada(endereco: SocketAddr, apresentacao: Apresentacao) -> CodigoErro {
    match Conexao::conectar(endereco, apresentacao).await {
        Err(ErroConexao::Recusada { codigo, .. }) => codigo,
        Err(outro) => panic!("esperava uma recusa, veio {outro}"),
        Ok(_) => panic!("esperava uma recusa, a conexão foi aceita"),
    }
}

#[tokio::test]
async fn so_quem_tem_o_token_e_atendente() {
    let broker = iniciar_broker_com(Config {
        falhas_de_autenticacao: 3,
        ..config_de_teste()
    })
    .await;
    let endereco = broker.endereco();
    let mut par = Par::formar(endereco, "par").await;
    let departamentos = || vec!["geral".to_owned()];

    let mut sem_token = Apresentacao::atendente("Bia", departamentos(), "x");
    sem_token.token = None;
    assert_eq!(
        recusada(endereco, sem_token).await,
        CodigoErro::NaoAutorizado
    );
    par.conversar().await;
    let errado = Apresentacao::atendente("Bia", departamentos(), "token-de-test");
    assert_eq!(recusada(endereco, errado).await, CodigoErro::NaoAutorizado);
    // A customer's connection carrying the token is still a customer: it cannot act as one.
    let mut cliente = Apresentacao::cliente("Caio", "geral");
    cliente.token = Some(TOKEN_DE_TESTE.into());
    let mut caio = Conexao::conectar(endereco, cliente)
        .await
        .expect("customers enter");
    caio.envio
        .enviar(ParaBroker::Pausar { seq: 0 })
        .await
        .expect("sends");
    let mut erro = None;
    while let Some(Ok(quadro)) = caio.eventos.next().await {
        if let DoBroker::Erro { codigo, .. } = quadro {
            erro = Some(codigo);
            break;
        }
    }
    assert_eq!(erro, Some(CodigoErro::ApenasAtendente));

    // A third failure from this address: now even the right token is refused for a while...
    let errado = Apresentacao::atendente("Bia", departamentos(), "chute");
    assert_eq!(recusada(endereco, errado).await, CodigoErro::NaoAutorizado);
    let certo = Apresentacao::atendente("Bia", departamentos(), TOKEN_DE_TESTE);
    assert_eq!(recusada(endereco, certo).await, CodigoErro::NaoAutorizado);
    // ...but customers from the same address are not affected.
    let mut dora = Participante::cliente(endereco, "Dora", "geral").await;
    dora.esperar_posicao(2).await;
    par.conversar().await;
    broker.parar().await;
}

#[tokio::test]
async fn quem_para_de_responder_aos_batimentos_cai() {
    let broker = iniciar_broker_com(Config {
        intervalo_batimento: Duration::from_millis(250),
        ..config_de_teste()
    })
    .await;
    let endereco = broker.endereco();
    let mut par = Par::formar(endereco, "par").await;

    // An agent whose program froze after the handshake: it never answers a Ping.
    let mut ana = Participante::cliente(endereco, "Bia", "geral").await;
    ana.esperar_posicao(1).await;
    let mut congelado = Bruto::conectar(endereco).await;
    congelado
        .enviar(ParaBroker::Apresentacao(Apresentacao::atendente(
            "Zé",
            vec!["geral".into()],
            TOKEN_DE_TESTE,
        )))
        .await;
    ana.esperar_conexao_com("Zé").await;
    ana.esperar_fim(MotivoFim::AtendenteDesconectou).await;
    ana.esperar_posicao(1).await;
    // The broker pinged it, then closed it.
    let mut pings = 0;
    while let Some(quadro) = congelado.proximo().await {
        if quadro == DoBroker::Ping {
            pings += 1;
        }
    }
    assert!(
        pings >= 1,
        "o broker devia ter mandado Ping antes de desistir"
    );

    // The pair, whose handles answer every Ping, lived through many intervals.
    par.conversar().await;
    broker.parar().await;
}

#[tokio::test]
async fn o_cliente_percebe_um_broker_calado() {
    // A "broker" that welcomes, announcing 50 ms heartbeats, then never says anything again.
    let ouvinte = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let endereco = ouvinte.local_addr().expect("has an address");
    let calado = tokio::spawn(async move {
        let (socket, _) = ouvinte.accept().await.expect("accepts");
        let mut quadros = proto::enquadrar::<_, ParaBroker, DoBroker>(socket, 1024);
        let _ = quadros.next().await;
        futures::SinkExt::send(
            &mut quadros,
            DoBroker::BemVindo {
                sessao: 1,
                batimento_ms: 50,
                ficha: [0; 16],
                tolerancia_ms: 0,
                retomada: false,
                ultima_aceita: 0,
                mensagens_por_segundo: 10,
                rajada: 20,
                capacidade: 1,
            },
        )
        .await
        .expect("sends");
        // Keep the connection open, silent, until the test aborts this task.
        std::future::pending::<()>().await;
    });
    let mut conexao = Conexao::conectar(endereco, Apresentacao::cliente("Ana", "geral"))
        .await
        .expect("welcomed");
    let fim = tokio::time::timeout(Duration::from_secs(10), conexao.eventos.next())
        .await
        .expect("the handle must notice the silence");
    match fim {
        Some(Err(erro)) => assert_eq!(erro.kind(), std::io::ErrorKind::TimedOut),
        outro => panic!("esperava o erro de silêncio, veio {outro:?}"),
    }
    calado.abort();
}

#[tokio::test]
async fn acima_do_ritmo_o_broker_freia_e_nada_se_perde() {
    let broker = iniciar_broker_com(Config {
        mensagens_por_segundo: 40,
        rajada_de_mensagens: 5,
        ..config_de_teste()
    })
    .await;
    let endereco = broker.endereco();
    let mut par = Par::formar(endereco, "par").await;
    let mut laura = Participante::atendente(endereco, "Laura", &["geral"]).await;
    // A raw peer, which does not keep to the rate as the client handle does.
    let mut beto = Bruto::conectar(endereco).await;
    beto.enviar(ParaBroker::Apresentacao(Apresentacao::cliente(
        "Beto", "geral",
    )))
    .await;
    match beto.proximo().await {
        Some(DoBroker::BemVindo {
            mensagens_por_segundo: 40,
            rajada: 5,
            ..
        }) => {}
        outro => panic!("esperava o BemVindo com o ritmo, veio {outro:?}"),
    }
    let conversa = loop {
        match beto.proximo().await {
            Some(DoBroker::Conectado { conversa, .. }) => break conversa,
            Some(_) => continue,
            None => panic!("o broker fechou a conexão"),
        }
    };
    laura.esperar_conexao_com("Beto").await;

    // Eight times the burst at once, commands among the lines: every one arrives, in order,
    // is confirmed, and no error is sent.
    const LINHAS: u64 = 40;
    for seq in 1..=LINHAS {
        beto.enviar(ParaBroker::Mensagem {
            conversa,
            texto: format!("m{seq}"),
            seq,
        })
        .await;
    }
    for seq in 1..=LINHAS {
        laura.esperar_mensagem("Beto", &format!("m{seq}")).await;
    }
    let mut confirmada = 0;
    while confirmada < LINHAS {
        match beto.proximo().await {
            Some(DoBroker::Confirmada { seq }) => {
                assert_eq!(seq, confirmada + 1, "confirmações em ordem, sem lacuna");
                confirmada = seq;
            }
            Some(DoBroker::Erro { codigo, texto }) => panic!("erro {codigo:?}: {texto}"),
            Some(_) => continue,
            None => panic!("o broker fechou a conexão de quem só foi rápido"),
        }
    }
    // Still open: the chat goes on.
    beto.enviar(ParaBroker::Sair { seq: LINHAS + 1 }).await;
    laura.esperar_fim(MotivoFim::ClienteSaiu).await;
    // The pair on the same broker kept its own rate and lost nothing.
    par.conversar().await;
    broker.parar().await;
}

#[tokio::test]
async fn fila_cheia_recusa_com_aviso_claro() {
    let broker = iniciar_broker_com(Config {
        fila_maxima: 2,
        ..config_de_teste()
    })
    .await;
    let endereco = broker.endereco();
    let mut par = Par::formar(endereco, "par").await;
    let mut um = Participante::cliente(endereco, "Um", "vendas").await;
    um.esperar_posicao(1).await;
    let mut dois = Participante::cliente(endereco, "Dois", "vendas").await;
    dois.esperar_posicao(2).await;
    assert_eq!(
        recusada(endereco, Apresentacao::cliente("Três", "vendas")).await,
        CodigoErro::FilaCheia
    );
    // Another department has room.
    let mut outro = Participante::cliente(endereco, "Quatro", "suporte").await;
    outro.esperar_posicao(1).await;
    // When someone leaves, there is room again.
    drop(um);
    dois.esperar_posicao(1).await;
    let mut tres = Participante::cliente(endereco, "Três", "vendas").await;
    tres.esperar_posicao(2).await;
    par.conversar().await;
    broker.parar().await;
}

/// Opens a raw connection from a given local address.
async fn de(origem: &str, destino: SocketAddr) -> Bruto {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{origem}:0").parse().expect("address"))
        .expect("binds");
    Bruto::de(socket.connect(destino).await.expect("connects"))
}

#[tokio::test]
async fn limites_de_conexoes_por_endereco_e_no_total() {
    let broker = iniciar_broker_com(Config {
        conexoes_por_endereco: 3,
        conexoes_maximas: 5,
        ..config_de_teste()
    })
    .await;
    let endereco = broker.endereco();
    // The pair holds two connections from 127.0.0.1.
    let mut par = Par::formar(endereco, "par").await;
    let _terceira = de("127.0.0.1", endereco).await;
    let mut quarta = de("127.0.0.1", endereco).await;
    assert!(matches!(
        quarta.proximo().await,
        Some(DoBroker::Erro {
            codigo: CodigoErro::LimiteDeConexoes,
            ..
        })
    ));
    assert_eq!(quarta.proximo().await, None);
    // Another address still gets in, up to the total of five.
    let mut outra = de("127.0.0.2", endereco).await;
    outra
        .enviar(ParaBroker::Apresentacao(Apresentacao::cliente(
            "Eva", "geral",
        )))
        .await;
    assert!(matches!(
        outra.proximo().await,
        Some(DoBroker::BemVindo { .. })
    ));
    let _quinta = de("127.0.0.3", endereco).await;
    let mut sexta = de("127.0.0.4", endereco).await;
    assert!(matches!(
        sexta.proximo().await,
        Some(DoBroker::Erro {
            codigo: CodigoErro::LimiteDeConexoes,
            ..
        })
    ));
    par.conversar().await;
    broker.parar().await;
}
