//! End-to-end behaviour of a help desk over real TCP: the original system's session, and the
//! rules around it (departments, chat while unpaired, endings, name clashes).

use std::time::Duration;

use broker::Config;
use proto::{CodigoErro, DoBroker, MotivoFim, ParaBroker};
use tests::{Participante, config_de_teste, esperar_par, iniciar_broker, iniciar_broker_com};

/// The original system's session: three customers wait and see their places, two agents arrive
/// and are paired in arrival order, chat flows both ways, a customer leaves and its agent takes
/// the next one, an agent drops and its customer goes back to the head of the line.
#[tokio::test]
async fn sessao_do_sistema_original() {
    let broker = iniciar_broker().await;
    let endereco = broker.endereco();

    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    ana.esperar_posicao(1).await;
    let mut beto = Participante::cliente(endereco, "Beto", "geral").await;
    beto.esperar_posicao(2).await;
    let mut caio = Participante::cliente(endereco, "Caio", "geral").await;
    caio.esperar_posicao(3).await;

    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    let conversa_ana = esperar_par(&mut yuri, &mut ana).await;
    beto.esperar_posicao(1).await;
    caio.esperar_posicao(2).await;

    let mut laura = Participante::atendente(endereco, "Laura", &["geral"]).await;
    let conversa_beto = esperar_par(&mut laura, &mut beto).await;
    caio.esperar_posicao(1).await;

    ana.dizer("Olá, minha internet caiu.").await;
    yuri.esperar_mensagem("Ana", "Olá, minha internet caiu.")
        .await;
    yuri.dizer("Vou verificar, um momento.").await;
    ana.esperar_mensagem("Yuri", "Vou verificar, um momento.")
        .await;
    beto.dizer("Oi Laura").await;
    laura.esperar_mensagem("Beto", "Oi Laura").await;

    // Ana leaves: Yuri is told and takes Caio, the next in line.
    ana.enviar(ParaBroker::Sair { seq: 0 }).await;
    ana.esperar_fim(MotivoFim::ClienteSaiu).await;
    ana.esperar_fechamento().await;
    yuri.esperar_fim(MotivoFim::ClienteSaiu).await;
    let conversa_caio = esperar_par(&mut yuri, &mut caio).await;

    // Laura's connection drops: Beto goes back to the head of the line.
    drop(laura);
    beto.esperar_fim(MotivoFim::AtendenteDesconectou).await;
    beto.esperar_posicao(1).await;

    // Yuri ends Caio's chat: Caio's session ends, and Yuri takes Beto at once.
    yuri.encerrar(yuri.conversa).await;
    caio.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    // Asked for no rating here, Caio gets the session's own end, outside the chat.
    caio.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    caio.esperar_fechamento().await;
    yuri.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    let conversa_beto_yuri = esperar_par(&mut yuri, &mut beto).await;
    let conversas = [
        conversa_ana,
        conversa_beto,
        conversa_caio,
        conversa_beto_yuri,
    ];
    assert!(
        conversas
            .iter()
            .all(|c| conversas.iter().filter(|d| *d == c).count() == 1),
        "cada conversa tem um id próprio: {conversas:?}"
    );
    beto.dizer("Voltei!").await;
    yuri.esperar_mensagem("Beto", "Voltei!").await;

    broker.parar().await;
    beto.esperar_fim(MotivoFim::BrokerEncerrando).await;
    beto.esperar_fechamento().await;
    yuri.esperar_fim(MotivoFim::BrokerEncerrando).await;
    yuri.esperar_fechamento().await;
}

/// Chat from a session that is not in a chat gets an error, and the session carries on.
#[tokio::test]
async fn conversa_sem_par_recebe_erro_e_continua() {
    let broker = iniciar_broker().await;
    let endereco = broker.endereco();

    // A waiting customer's line for a chat it is not in is refused (its own lines while it
    // waits are kept for the agent: `cliente_na_fila.rs`).
    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    ana.esperar_posicao(1).await;
    ana.dizer_em(3, "tem alguém aí?").await;
    assert!(matches!(
        ana.proximo_evento().await,
        DoBroker::Erro {
            codigo: CodigoErro::SemConversa,
            ..
        }
    ));

    let mut yuri = Participante::atendente(endereco, "Yuri", &["vendas"]).await;
    yuri.dizer("alô?").await;
    assert!(matches!(
        yuri.proximo_evento().await,
        DoBroker::Erro {
            codigo: CodigoErro::SemConversa,
            ..
        }
    ));
    yuri.encerrar(yuri.conversa).await;
    assert!(matches!(
        yuri.proximo_evento().await,
        DoBroker::Erro {
            codigo: CodigoErro::SemConversa,
            ..
        }
    ));

    // Both are still there: an agent for Ana's department pairs with her.
    let mut laura = Participante::atendente(endereco, "Laura", &["geral"]).await;
    esperar_par(&mut laura, &mut ana).await;
    ana.dizer("agora sim").await;
    laura.esperar_mensagem("Ana", "agora sim").await;
    broker.parar().await;
}

/// Departments keep separate lines; an agent serving several takes the customer who has waited
/// longest among them.
#[tokio::test]
async fn departamentos_e_ordem_de_chegada() {
    let broker = iniciar_broker().await;
    let endereco = broker.endereco();

    let mut vendas1 = Participante::cliente(endereco, "V1", "Vendas").await;
    vendas1.esperar_posicao(1).await;
    let mut suporte1 = Participante::cliente(endereco, "S1", "suporte").await;
    suporte1.esperar_posicao(1).await;
    let mut vendas2 = Participante::cliente(endereco, "V2", " vendas ").await;
    vendas2.esperar_posicao(2).await;

    let mut so_suporte = Participante::atendente(endereco, "Sil", &["suporte"]).await;
    esperar_par(&mut so_suporte, &mut suporte1).await;

    let mut ambos = Participante::atendente(endereco, "Duda", &["suporte", "vendas"]).await;
    esperar_par(&mut ambos, &mut vendas1).await;
    vendas2.esperar_posicao(1).await;

    // A customer in a department nobody is free for waits; the free agent of another
    // department is not given to it.
    let mut geral = Participante::cliente(endereco, "G1", "geral").await;
    geral.esperar_posicao(1).await;

    // V1 leaves: Duda takes V2.
    drop(vendas1);
    ambos.esperar_fim(MotivoFim::ClienteDesconectou).await;
    esperar_par(&mut ambos, &mut vendas2).await;
    broker.parar().await;
}

/// Two connected agents never share a name (rule 10); customers may.
#[tokio::test]
async fn nomes_de_atendentes_sao_unicos() {
    let broker = iniciar_broker().await;
    let endereco = broker.endereco();

    let _yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    let recusa = proto::Conexao::conectar(
        endereco,
        proto::Apresentacao::atendente(" yuri ", vec!["vendas".into()], tests::TOKEN_DE_TESTE),
    )
    .await;
    assert!(matches!(
        recusa,
        Err(proto::ErroConexao::Recusada {
            codigo: CodigoErro::NomeEmUso,
            ..
        })
    ));

    let mut ana1 = Participante::cliente(endereco, "Ana", "vendas").await;
    ana1.esperar_posicao(1).await;
    let mut ana2 = Participante::cliente(endereco, "Ana", "vendas").await;
    ana2.esperar_posicao(2).await;
    broker.parar().await;
}

/// An agent who leaves mid-chat is told goodbye, and its customer keeps its turn.
#[tokio::test]
async fn atendente_que_sai_devolve_o_cliente_ao_inicio_da_fila() {
    let broker = iniciar_broker().await;
    let endereco = broker.endereco();

    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    ana.esperar_posicao(1).await;
    let mut beto = Participante::cliente(endereco, "Beto", "geral").await;
    beto.esperar_posicao(2).await;
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    esperar_par(&mut yuri, &mut ana).await;
    beto.esperar_posicao(1).await;

    yuri.enviar(ParaBroker::Sair { seq: 0 }).await;
    yuri.esperar_fim(MotivoFim::AtendenteSaiu).await;
    yuri.esperar_fechamento().await;
    ana.esperar_fim(MotivoFim::AtendenteSaiu).await;
    ana.esperar_posicao(1).await;
    beto.esperar_posicao(2).await;

    let mut laura = Participante::atendente(endereco, "Laura", &["geral"]).await;
    esperar_par(&mut laura, &mut ana).await;
    beto.esperar_posicao(1).await;
    broker.parar().await;
}

/// An agent sees how many customers wait in its departments, and a paused agent gets no new
/// customer until it resumes, while the chat it is in goes on.
#[tokio::test]
async fn pausa_e_clientes_na_fila() {
    let broker = iniciar_broker().await;
    let endereco = broker.endereco();

    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral", "vendas"]).await;
    yuri.esperar_espera(0).await;
    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    let conversa = esperar_par(&mut yuri, &mut ana).await;
    let mut beto = Participante::cliente(endereco, "Beto", "vendas").await;
    beto.esperar_posicao(1).await;
    let mut caio = Participante::cliente(endereco, "Caio", "suporte").await;
    caio.esperar_posicao(1).await;
    yuri.esperar_espera(1).await;

    // Pausing mid-chat: the chat goes on; when it ends, Yuri does not take Beto.
    yuri.enviar(ParaBroker::Pausar { seq: 0 }).await;
    assert_eq!(
        yuri.proximo_evento().await,
        DoBroker::Pausa { pausado: true }
    );
    ana.dizer("ainda está aí?").await;
    yuri.esperar_mensagem("Ana", "ainda está aí?").await;
    yuri.encerrar(yuri.conversa).await;
    yuri.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    ana.esperar_fim(MotivoFim::AtendenteEncerrou).await;

    // A customer cannot pause.
    beto.enviar(ParaBroker::Pausar { seq: 0 }).await;
    assert!(matches!(
        beto.proximo_evento().await,
        DoBroker::Erro {
            codigo: CodigoErro::ApenasAtendente,
            ..
        }
    ));

    // Resuming: Yuri takes Beto at once, and learns how long he waited.
    yuri.enviar(ParaBroker::Voltar { seq: 0 }).await;
    assert_eq!(
        yuri.proximo_evento().await,
        DoBroker::Pausa { pausado: false }
    );
    match yuri.proximo_evento().await {
        DoBroker::Conectado {
            com,
            conversa: nova,
            departamento,
            ..
        } => {
            assert_eq!((com.as_str(), departamento.as_str()), ("Beto", "vendas"));
            assert_ne!(nova, conversa);
        }
        outro => panic!("esperava a conversa com Beto, chegou {outro:?}"),
    }
    beto.esperar_conexao_com("Yuri").await;
    yuri.esperar_espera(0).await;
    broker.parar().await;
}

/// An agent of capacity 3 chats with three customers at once and no line crosses chats; the
/// fourth customer waits until a chat ends. A second agent arriving gets the next customer
/// (fewest chats first), and keeps getting them while it has fewer chats.
#[tokio::test]
async fn atendente_com_capacidade_tres_atende_tres_ao_mesmo_tempo() {
    let broker = iniciar_broker().await;
    let endereco = broker.endereco();
    let mut yuri = Participante::atendente_com_capacidade(endereco, "Yuri", &["geral"], 3).await;
    let mut clientes = Vec::new();
    let mut conversas = Vec::new();
    for nome in ["Ana", "Bia", "Caio"] {
        let mut cliente = Participante::cliente(endereco, nome, "geral").await;
        conversas.push(esperar_par(&mut cliente, &mut yuri).await);
        clientes.push(cliente);
    }
    let mut davi = Participante::cliente(endereco, "Davi", "geral").await;
    davi.esperar_posicao(1).await;

    // Each customer says something; Yuri reads each in its own chat and answers there.
    for cliente in &mut clientes {
        let texto = format!("aqui é {}", cliente.nome);
        cliente.dizer(&texto).await;
    }
    for (cliente, &conversa) in clientes.iter().zip(&conversas) {
        let texto = format!("aqui é {}", cliente.nome);
        yuri.esperar_mensagem_em(conversa, &cliente.nome, &texto)
            .await;
    }
    for (cliente, &conversa) in clientes.iter().zip(&conversas).rev() {
        yuri.dizer_em(conversa, &format!("olá, {}", cliente.nome))
            .await;
    }
    for (cliente, &conversa) in clientes.iter_mut().zip(&conversas) {
        let texto = format!("olá, {}", cliente.nome);
        cliente.esperar_mensagem_em(conversa, "Yuri", &texto).await;
    }

    // A line for a chat Yuri is not in is refused; his chats go on.
    yuri.dizer_em(999, "perdida").await;
    match yuri.proximo_evento().await {
        DoBroker::Erro { codigo, .. } => assert_eq!(codigo, CodigoErro::SemConversa),
        outro => panic!("esperava SemConversa, chegou {outro:?}"),
    }

    // Yuri ends Bia's chat: his freed place goes to Davi, who waited.
    yuri.encerrar(conversas[1]).await;
    clientes[1].esperar_fim(MotivoFim::AtendenteEncerrou).await;
    yuri.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    let conversa_davi = esperar_par(&mut davi, &mut yuri).await;

    // Zoe arrives with room for two: having fewer chats, she gets the next two customers.
    let mut zoe = Participante::atendente_com_capacidade(endereco, "Zoe", &["geral"], 2).await;
    for nome in ["Eva", "Fábio"] {
        let mut cliente = Participante::cliente(endereco, nome, "geral").await;
        esperar_par(&mut cliente, &mut zoe).await;
        clientes.push(cliente);
    }
    // Both full now: the next one waits.
    let mut gil = Participante::cliente(endereco, "Gil", "geral").await;
    gil.esperar_posicao(1).await;
    // Yuri's connection drops: his customers go back to their lines, the earliest arrival
    // first, and Gil, who came after all of them, moves back.
    drop(yuri);
    clientes[0]
        .esperar_fim(MotivoFim::AtendenteDesconectou)
        .await;
    clientes[0].esperar_posicao(1).await;
    clientes[2]
        .esperar_fim(MotivoFim::AtendenteDesconectou)
        .await;
    clientes[2].esperar_posicao(2).await;
    davi.esperar_fim(MotivoFim::AtendenteDesconectou).await;
    davi.esperar_posicao(3).await;
    gil.esperar_posicao(4).await;
    assert_ne!(conversa_davi, conversas[1], "a new chat, a new id");
    broker.parar().await;
}

/// An agent who never answers a new chat loses the customer to a colleague when the deadline
/// passes, and is paused; the customer sees no ending, only its new chat. An agent who answers
/// keeps its chat past the deadline.
#[tokio::test]
async fn atendente_que_nao_responde_perde_o_cliente_e_entra_em_pausa() {
    let broker = iniciar_broker_com(Config {
        prazo_resposta: Duration::from_millis(300),
        ..config_de_teste()
    })
    .await;
    let endereco = broker.endereco();
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    let primeira = esperar_par(&mut ana, &mut yuri).await;
    ana.dizer("alguém aí?").await;
    yuri.esperar_mensagem("Ana", "alguém aí?").await;
    let mut zoe = Participante::atendente(endereco, "Zoe", &["geral"]).await;

    // Yuri says nothing: the chat ends for him alone, and he is paused.
    match yuri.proximo_evento().await {
        DoBroker::Fim { conversa, motivo } => {
            assert_eq!((conversa, motivo), (primeira, MotivoFim::SemResposta));
        }
        outro => panic!("esperava o fim por falta de resposta, chegou {outro:?}"),
    }
    assert_eq!(
        yuri.proximo_evento().await,
        DoBroker::Pausa { pausado: true }
    );
    // Ana goes to Zoe, with no Fim on her side: the same chat, whose lines Zoe gets.
    let segunda = esperar_par(&mut ana, &mut zoe).await;
    assert_eq!(segunda, primeira);
    match zoe.proximo_evento().await {
        DoBroker::Transcricao { falas, .. } => {
            assert_eq!(falas.len(), 1);
            assert_eq!(falas[0].texto, "alguém aí?");
        }
        outro => panic!("esperava a conversa até aqui, chegou {outro:?}"),
    }
    zoe.dizer("Oi, Ana! Sou a Zoe.").await;
    ana.esperar_mensagem("Zoe", "Oi, Ana! Sou a Zoe.").await;

    // Zoe answered: past the deadline, the chat goes on.
    tokio::time::sleep(Duration::from_millis(600)).await;
    ana.dizer("ainda aí?").await;
    zoe.esperar_mensagem("Ana", "ainda aí?").await;
    // Yuri, paused, gets no one until he comes back.
    let mut bia = Participante::cliente(endereco, "Bia", "geral").await;
    bia.esperar_posicao(1).await;
    yuri.enviar(ParaBroker::Voltar { seq: 0 }).await;
    assert_eq!(
        yuri.proximo_evento().await,
        DoBroker::Pausa { pausado: false }
    );
    esperar_par(&mut bia, &mut yuri).await;
    broker.parar().await;
}
