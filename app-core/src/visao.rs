//! How a [`Modelo`] looks on screen: the "view" of the full-screen apps.
//!
//! One screen, top to bottom: a header (who, role, departments, connection), for an agent in
//! chats a line of tabs (the one in view highlighted, unread ones marked), the conversation in
//! view (times, names, wrapped to the width, scrolled with PageUp/PageDown), a status line, and
//! the input line, which wraps and grows up to a few lines and is never touched by incoming
//! text.

use proto::Papel;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use crate::exibicao::{self, duracao};
use crate::modelo::{Autor, Ligacao, Modelo, Situacao};

/// Most lines the input area grows to.
const ENTRADA_MAXIMA: usize = 5;
/// What stands before the text being typed.
const PROMPT: &str = "> ";

/// Draws the whole screen.
pub fn desenhar(quadro: &mut Frame, modelo: &Modelo) {
    let area = quadro.area();
    let largura_texto = usize::from(area.width).saturating_sub(PROMPT.width());
    let (linhas_entrada, cursor) = modelo.editor.linhas(largura_texto);
    let altura_entrada = linhas_entrada.len().clamp(1, ENTRADA_MAXIMA);
    // Tabs are for agents who take several chats at once.
    let altura_abas = u16::from(!modelo.abas.is_empty() && modelo.capacidade > 1);
    let [cabecalho, abas, conversa, status, entrada] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(altura_abas),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(altura_entrada as u16),
    ])
    .areas(area);

    quadro.render_widget(
        Paragraph::new(texto_do_cabecalho(modelo))
            .style(Style::new().bg(Color::Blue).fg(Color::White)),
        cabecalho,
    );
    if altura_abas > 0 {
        let largura = usize::from(area.width);
        quadro.render_widget(Paragraph::new(linha_das_abas(modelo, largura)), abas);
    }
    desenhar_conversa(quadro, modelo, conversa);
    quadro.render_widget(
        Paragraph::new(texto_do_status(modelo)).style(
            Style::new()
                .bg(Color::DarkGray)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
        ),
        status,
    );

    // Keep the cursor's line visible when the input is longer than its area.
    let primeira = (cursor.1 + 1).saturating_sub(altura_entrada);
    let linhas: Vec<Line> = linhas_entrada
        .iter()
        .enumerate()
        .skip(primeira)
        .take(altura_entrada)
        .map(|(i, linha)| {
            let prefixo = if i == 0 { PROMPT } else { "  " };
            Line::from(vec![
                Span::styled(prefixo, Style::new().fg(Color::Cyan)),
                Span::raw(linha.as_str()),
            ])
        })
        .collect();
    quadro.render_widget(Paragraph::new(linhas), entrada);
    if matches!(modelo.ligacao, Ligacao::Conectado | Ligacao::Reconectando) {
        let x = entrada.x + (PROMPT.width() + cursor.0) as u16;
        let y = entrada.y + (cursor.1 - primeira) as u16;
        quadro.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), y));
    }
}

/// "Ana · cliente · geral · conectado".
fn texto_do_cabecalho(modelo: &Modelo) -> String {
    let (papel, departamentos) = match &modelo.papel {
        Papel::Cliente { departamento } => ("cliente", departamento.clone()),
        Papel::Atendente { departamentos, .. } => ("atendente", departamentos.join(", ")),
        Papel::Supervisor => ("supervisor", String::new()),
    };
    let ligacao = match modelo.ligacao {
        Ligacao::Conectado => "● conectado",
        Ligacao::Reconectando => "◐ reconectando",
        Ligacao::Perdida => "○ desconectado",
        Ligacao::Encerrada => "○ encerrado",
    };
    format!(
        " {} · {papel} · {} · {ligacao}",
        modelo.nome,
        departamentos.to_lowercase()
    )
}

/// Most characters of a name on a tab.
const NOME_NA_ABA: usize = 14;

/// " Início │ #3 Ana │ #5 Bia • │ #6 Caio ✓ ": the general log and every chat by its number
/// (the one `/fim N` takes; Alt-1… pick them by position); the one in view reversed, unread ones
/// with a dot, ended ones with a check. When they do not fit in `largura`, the line shows the
/// ones around the tab in view, with `‹` and `›` where others are hidden.
fn linha_das_abas(modelo: &Modelo, largura: usize) -> Line<'static> {
    let rotulos: Vec<(String, Style)> = std::iter::once((" Início ".to_owned(), 0, false, false))
        .chain(modelo.abas.iter().enumerate().map(|(i, aba)| {
            let marca = match (aba.nao_lida, aba.encerrada) {
                (_, true) => " ✓",
                (true, false) => " •",
                (false, false) => "",
            };
            let nome = encurtar(&aba.com, NOME_NA_ABA);
            (
                format!(" #{} {nome}{marca} ", aba.conversa),
                i + 1,
                aba.nao_lida,
                aba.encerrada,
            )
        }))
        .map(|(texto, indice, nao_lida, _)| {
            let estilo = if indice == modelo.em_vista {
                Style::new().add_modifier(Modifier::REVERSED)
            } else if nao_lida {
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            (texto, estilo)
        })
        .collect();
    let (inicio, fim) = janela(&rotulos, modelo.em_vista, largura);
    let mut partes = Vec::new();
    if inicio > 0 {
        partes.push(Span::raw("‹"));
    }
    for (i, (texto, estilo)) in rotulos[inicio..fim].iter().enumerate() {
        if i > 0 {
            partes.push(Span::raw("│"));
        }
        partes.push(Span::styled(texto.clone(), *estilo));
    }
    if fim < rotulos.len() {
        partes.push(Span::raw("›"));
    }
    Line::from(partes)
}

/// The range of tabs to show: as many as fit in `largura` (with their separators and the
/// markers of hidden ones), around the one in view.
fn janela(rotulos: &[(String, Style)], em_vista: usize, largura: usize) -> (usize, usize) {
    let larg = |i: usize| rotulos[i].0.width() + 1;
    let em_vista = em_vista.min(rotulos.len().saturating_sub(1));
    let (mut inicio, mut fim) = (em_vista, em_vista + 1);
    let mut usado = larg(em_vista) + 2;
    loop {
        let cabe_depois = fim < rotulos.len() && usado + larg(fim) <= largura;
        if cabe_depois {
            usado += larg(fim);
            fim += 1;
        }
        let cabe_antes = inicio > 0 && usado + larg(inicio - 1) <= largura;
        if cabe_antes {
            usado += larg(inicio - 1);
            inicio -= 1;
        }
        if !cabe_depois && !cabe_antes {
            return (inicio, fim);
        }
    }
}

/// A name cut to `maximo` characters, with "…" when cut.
fn encurtar(nome: &str, maximo: usize) -> String {
    if nome.chars().count() <= maximo {
        return nome.to_owned();
    }
    let mut curto: String = nome.chars().take(maximo - 1).collect();
    curto.push('…');
    curto
}

/// What the status line says for the person's situation.
pub fn texto_do_status(modelo: &Modelo) -> String {
    match modelo.ligacao {
        Ligacao::Conectado => {}
        Ligacao::Reconectando => {
            return " A conexão caiu; reconectando para retomar a sessão...".into();
        }
        Ligacao::Perdida => {
            return " Sem conexão com o broker. Enter: reconectar · Esc: sair".into();
        }
        Ligacao::Encerrada => {
            let motivo = match &modelo.situacao {
                Situacao::Encerrada(motivo) => motivo.as_str(),
                _ => "Atendimento encerrado.",
            };
            return format!(" Enter: novo atendimento · Esc: sair · {motivo}");
        }
    }
    let situacao = match &modelo.situacao {
        Situacao::Procurando => "Procurando um atendente...".to_owned(),
        Situacao::NaFila(posicao) => {
            let lugar = exibicao::lugar_na_fila(*posicao);
            match (modelo.atendentes_online, modelo.estimativa_s) {
                (Some(0), _) => format!("{lugar} · nenhum atendente online"),
                (_, Some(segundos)) => {
                    format!(
                        "{lugar} · espera estimada: {}",
                        exibicao::estimativa(segundos)
                    )
                }
                _ => lugar,
            }
        }
        Situacao::Encerrada(motivo) => motivo.clone(),
        Situacao::Avaliando { .. } => "Dê uma nota de 1 a 5 ao atendimento".to_owned(),
        // An agent's chats are in its tabs.
        Situacao::Livre | Situacao::Pausado | Situacao::EmConversa { .. } if modelo.atendente() => {
            return texto_do_status_do_atendente(modelo);
        }
        Situacao::Livre | Situacao::Pausado => String::new(),
        Situacao::EmConversa { com, .. } => format!("Conversando com {com}"),
    };
    let mut partes = vec![situacao];
    if modelo.parceiro_ausente && matches!(modelo.situacao, Situacao::EmConversa { .. }) {
        partes.push("◐ a conexão da outra pessoa caiu; aguardando que volte".to_owned());
    }
    format!(" {}", partes.join(" · "))
}

/// An agent's status: the chat in view (or how many are open), the pause, the line.
fn texto_do_status_do_atendente(modelo: &Modelo) -> String {
    let abertas = modelo.abertas().count();
    let em_vista = modelo.aba_em_vista();
    let mut partes = vec![match em_vista {
        Some(aba) if !aba.encerrada => format!(
            "Atendendo {} ({}, esperou {})",
            aba.com,
            aba.departamento,
            duracao(aba.espera_ms)
        ),
        _ if modelo.pausado && abertas == 0 => {
            "Em pausa (/voltar para receber clientes)".to_owned()
        }
        _ if abertas == 0 => "Livre, aguardando clientes".to_owned(),
        Some(aba) => format!("Atendimento #{} encerrado", aba.conversa),
        None => "Escolha uma conversa: Alt-1…Alt-9".to_owned(),
    }];
    if let Some(aba) = em_vista.filter(|aba| aba.encerrada && abertas == 0) {
        partes.push(format!("atendimento #{} encerrado", aba.conversa));
    }
    if modelo
        .aba_em_vista()
        .is_some_and(|aba| aba.parceiro_ausente)
    {
        partes.push("◐ a conexão do cliente caiu; aguardando que volte".to_owned());
    }
    if abertas > 1 {
        partes.push(format!("{abertas} conversas"));
    }
    if modelo.pausado && abertas > 0 {
        partes.push("pausa: sem novos clientes".to_owned());
    }
    if let Some(clientes) = modelo.clientes_na_fila {
        partes.push(match clientes {
            0 => "ninguém na fila".to_owned(),
            1 => "1 cliente na fila".to_owned(),
            n => format!("{n} clientes na fila"),
        });
    }
    format!(" {}", partes.join(" · "))
}

/// The conversation, newest at the bottom, wrapped to the area's width.
fn desenhar_conversa(quadro: &mut Frame, modelo: &Modelo, area: Rect) {
    let largura = usize::from(area.width).max(10);
    let altura = usize::from(area.height);
    let registros = modelo.registros_em_vista();
    let fim = registros.len().saturating_sub(modelo.rolagem);
    let mut linhas: Vec<Line> = Vec::new();
    // Walk back from the newest visible entry until the area is full.
    for registro in registros[..fim].iter().rev() {
        let (rotulo, estilo) = match &registro.autor {
            Autor::Eu => (format!("{}: ", modelo.nome), Style::new().fg(Color::Cyan)),
            Autor::Parceiro(nome) => (format!("{nome}: "), Style::new().fg(Color::Green)),
            Autor::Aviso => (String::new(), Style::new().fg(Color::Yellow)),
            Autor::Erro => (String::new(), Style::new().fg(Color::Red)),
        };
        let cabeca = format!("{} {rotulo}", registro.hora);
        let recuo = " ".repeat(registro.hora.width() + 1);
        let opcoes = textwrap::Options::new(largura)
            .initial_indent(&cabeca)
            .subsequent_indent(&recuo)
            .break_words(true);
        let mut bloco: Vec<Line> = registro
            .texto
            .split('\n')
            .enumerate()
            .flat_map(|(i, paragrafo)| {
                let opcoes = if i == 0 {
                    opcoes.clone()
                } else {
                    opcoes.clone().initial_indent(&recuo)
                };
                textwrap::wrap(paragrafo, opcoes)
                    .into_iter()
                    .map(|linha| Line::styled(linha.into_owned(), estilo))
                    .collect::<Vec<_>>()
            })
            .collect();
        bloco.reverse();
        linhas.extend(bloco);
        if linhas.len() >= altura {
            break;
        }
    }
    linhas.truncate(altura);
    linhas.reverse();
    if modelo.rolagem > 0 && altura > 1 {
        let aviso = format!("↓ {} mais recentes (PageDown)", modelo.rolagem);
        linhas.push(Line::styled(
            aviso,
            Style::new().add_modifier(Modifier::DIM),
        ));
        if linhas.len() > altura {
            linhas.remove(0);
        }
    }
    // Newest lines sit right above the status line.
    let vazias = altura.saturating_sub(linhas.len());
    let mut todas = vec![Line::raw(""); vazias];
    todas.extend(linhas);
    quadro.render_widget(Paragraph::new(todas), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bemvindo(sessao: u64) -> DoBroker {
        DoBroker::BemVindo {
            sessao,
            batimento_ms: 15_000,
            ficha: [0; 16],
            tolerancia_ms: 0,
            retomada: false,
            ultima_aceita: 0,
            mensagens_por_segundo: 10,
            rajada: 20,
            capacidade: 1,
        }
    }
    use crate::modelo::Msg;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use proto::{DoBroker, MotivoFim};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    /// The screen's text, one string per row, trailing spaces removed.
    fn tela(modelo: &Modelo, largura: u16, altura: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(largura, altura)).unwrap();
        terminal.draw(|quadro| desenhar(quadro, modelo)).unwrap();
        let buffer = terminal.backend().buffer();
        (0..altura)
            .map(|y| {
                let mut linha = String::new();
                let mut x = 0;
                while x < largura {
                    let simbolo = buffer[(x, y)].symbol();
                    linha.push_str(simbolo);
                    x += simbolo.width().max(1) as u16;
                }
                linha.trim_end().to_owned()
            })
            .collect()
    }

    fn digitar(modelo: &mut Modelo, texto: &str) {
        for c in texto.chars() {
            modelo.atualizar(
                Msg::Tecla(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
                "09:00",
            );
        }
    }

    fn cliente_em_conversa() -> Modelo {
        let mut modelo = Modelo::new(
            "Ana".into(),
            Papel::Cliente {
                departamento: "geral".into(),
            },
            bemvindo(1),
            "09:00",
        );
        modelo.atualizar(
            Msg::Broker(DoBroker::Fila {
                posicao: 2,
                atendentes: 1,
                estimativa_s: None,
            }),
            "09:00",
        );
        modelo.atualizar(
            Msg::Broker(DoBroker::Conectado {
                com: "Yuri".into(),
                conversa: 7,
                departamento: "geral".into(),
                espera_ms: 42_000,
            }),
            "09:01",
        );
        modelo.atualizar(
            Msg::Broker(DoBroker::Mensagem {
                conversa: 1,
                de: "Yuri".into(),
                texto: "Olá! Como posso ajudar você hoje? Conte-me tudo.".into(),
            }),
            "09:02",
        );
        modelo
    }

    #[test]
    fn tela_do_cliente_em_conversa() {
        let mut modelo = cliente_em_conversa();
        digitar(&mut modelo, "Minha conexão caiu 😢");
        assert_eq!(
            tela(&modelo, 44, 10),
            vec![
                " Ana · cliente · geral · ● conectado",
                "",
                "09:00 Conectado. Procurando um atendente...",
                "09:00 Digite /ajuda para ver os comandos.",
                "09:01 Atendimento #7 iniciado: você está",
                "      falando com Yuri.",
                "09:02 Yuri: Olá! Como posso ajudar você",
                "      hoje? Conte-me tudo.",
                " Conversando com Yuri",
                "> Minha conexão caiu 😢",
            ]
        );
    }

    #[test]
    fn queda_e_volta_do_parceiro_aparecem_no_status_e_na_conversa() {
        let mut modelo = cliente_em_conversa();
        let ausente = DoBroker::Parceiro {
            conversa: 1,
            conectado: false,
        };
        modelo.atualizar(Msg::Broker(ausente), "09:03");
        assert!(texto_do_status(&modelo).contains("a conexão da outra pessoa caiu"));
        assert!(tela(&modelo, 80, 12).iter().any(|linha| {
            linha.contains("A conexão do atendente caiu. A conversa continua aberta")
        }));
        modelo.atualizar(
            Msg::Broker(DoBroker::Parceiro {
                conversa: 1,
                conectado: true,
            }),
            "09:04",
        );
        assert_eq!(texto_do_status(&modelo), " Conversando com Yuri");
        assert!(
            tela(&modelo, 80, 12)
                .iter()
                .any(|linha| linha.contains("O atendente voltou."))
        );
    }

    #[test]
    fn reconectando_aparece_no_cabecalho_e_a_digitacao_continua() {
        let mut modelo = cliente_em_conversa();
        modelo.atualizar(Msg::Religacao(proto::Ligacao::Reconectando), "09:03");
        digitar(&mut modelo, "oi");
        let linhas = tela(&modelo, 80, 12);
        assert!(linhas[0].contains("◐ reconectando"), "{linhas:?}");
        assert_eq!(linhas.last().map(String::as_str), Some("> oi"));
        modelo.atualizar(Msg::Religacao(proto::Ligacao::Retomada), "09:04");
        assert!(tela(&modelo, 80, 12)[0].contains("● conectado"));
    }

    #[test]
    fn tela_do_cliente_na_fila_e_entrada_longa() {
        let mut modelo = Modelo::new(
            "Ana".into(),
            Papel::Cliente {
                departamento: "vendas".into(),
            },
            bemvindo(1),
            "09:00",
        );
        modelo.atualizar(
            Msg::Broker(DoBroker::Fila {
                posicao: 3,
                atendentes: 1,
                estimativa_s: None,
            }),
            "09:00",
        );
        digitar(
            &mut modelo,
            "uma mensagem comprida que não cabe numa linha só",
        );
        assert_eq!(
            tela(&modelo, 30, 8),
            vec![
                " Ana · cliente · vendas · ● co",
                "09:00 Conectado. Procurando um",
                "      atendente...",
                "09:00 Digite /ajuda para ver",
                "      os comandos.",
                " Você é o número 3 na fila",
                "> uma mensagem comprida que nã",
                "  o cabe numa linha só",
            ]
        );
    }

    #[test]
    fn tela_do_atendente() {
        let mut boas_vindas = bemvindo(2);
        if let DoBroker::BemVindo { capacidade, .. } = &mut boas_vindas {
            *capacidade = 3;
        }
        let mut modelo = Modelo::new(
            "Yuri".into(),
            Papel::Atendente {
                departamentos: vec!["geral".into(), "vendas".into()],
                capacidade: 3,
            },
            boas_vindas,
            "09:00",
        );
        modelo.atualizar(Msg::Broker(DoBroker::Espera { clientes: 3 }), "09:00");
        assert_eq!(
            tela(&modelo, 60, 5)[3],
            " Livre, aguardando clientes · 3 clientes na fila"
        );
        modelo.atualizar(
            Msg::Broker(DoBroker::Conectado {
                com: "Ana".into(),
                conversa: 1,
                departamento: "vendas".into(),
                espera_ms: 185_000,
            }),
            "09:01",
        );
        modelo.atualizar(Msg::Broker(DoBroker::Pausa { pausado: true }), "09:01");
        assert_eq!(
            tela(&modelo, 80, 5)[3],
            " Atendendo Ana (vendas, esperou 3 min 5 s) · pausa: sem novos clientes · 3 clientes na fila"
                .chars()
                .take(80)
                .collect::<String>()
                .trim_end()
        );
        assert_eq!(
            tela(&modelo, 60, 5)[0],
            " Yuri · atendente · geral, vendas · ● conectado"
        );
        assert_eq!(tela(&modelo, 60, 5)[1], " Início │ #1 Ana");
        modelo.atualizar(
            Msg::Broker(DoBroker::Conectado {
                com: "Bia".into(),
                conversa: 2,
                departamento: "geral".into(),
                espera_ms: 0,
            }),
            "09:02",
        );
        assert_eq!(tela(&modelo, 60, 5)[1], " Início │ #1 Ana │ #2 Bia •");
        for (conversa, nome) in [(3, "Alessandra Silva Pereira"), (4, "Caio"), (5, "Davi")] {
            modelo.atualizar(
                Msg::Broker(DoBroker::Conectado {
                    com: nome.into(),
                    conversa,
                    departamento: "geral".into(),
                    espera_ms: 0,
                }),
                "09:03",
            );
        }
        // Too many for 50 columns: the tabs around the one in view, and where the others are.
        modelo.atualizar(
            Msg::Tecla(KeyEvent::new(KeyCode::Char('5'), KeyModifiers::ALT)),
            "09:04",
        );
        assert_eq!(
            tela(&modelo, 50, 5)[1],
            "‹ #3 Alessandra Si… • │ #4 Caio • │ #5 Davi"
        );
        assert!(tela(&modelo, 80, 5)[3].contains("5 conversas"));
    }

    #[test]
    fn tela_depois_do_fim_oferece_nova_sessao() {
        let mut modelo = cliente_em_conversa();
        modelo.atualizar(
            Msg::Broker(DoBroker::Fim {
                conversa: 1,
                motivo: MotivoFim::AtendenteEncerrou,
            }),
            "09:03",
        );
        modelo.atualizar(Msg::ConexaoEncerrada, "09:03");
        let tela = tela(&modelo, 70, 6);
        assert_eq!(tela[0], " Ana · cliente · geral · ○ encerrado");
        assert_eq!(tela[3], "09:03 O atendente encerrou o atendimento.");
        assert_eq!(
            tela[4],
            " Enter: novo atendimento · Esc: sair · O atendente encerrou o atendime"
        );
    }

    #[test]
    fn rolagem_mostra_mensagens_antigas() {
        let mut modelo = cliente_em_conversa();
        for i in 1..=12 {
            modelo.atualizar(
                Msg::Broker(DoBroker::Mensagem {
                    conversa: 1,
                    de: "Yuri".into(),
                    texto: format!("linha {i}"),
                }),
                "09:05",
            );
        }
        modelo.atualizar(
            Msg::Tecla(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)),
            "09:05",
        );
        let tela = tela(&modelo, 40, 7);
        assert_eq!(
            &tela[1..5],
            &[
                "09:05 Yuri: linha 5",
                "09:05 Yuri: linha 6",
                "09:05 Yuri: linha 7",
                "↓ 5 mais recentes (PageDown)",
            ]
        );
    }
}
