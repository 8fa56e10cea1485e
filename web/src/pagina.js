// The customer's chat page: the form, the place in line, the chat and the rating, on top of
// the protocol session of sessao.js. What is on screen is kept in sessionStorage beside the
// session itself, so a reload (or a dropped network) resumes the chat with nothing lost.

import { CHAVE_ARMAZENAMENTO, Sessao } from './sessao.js';

const CHAVE_TELA = 'fila.tela';

/** The broker's default rules for what a customer sends (PROTOCOL.md, "Names, departments
 * and texts", and the `NaEspera` limits), checked here so that the text stays in the box. */
const REGRAS = {
  textoMaximo: 16384,
  nomeMaximo: 64,
  naEsperaMaximo: 10,
  // Control characters other than line break and tab (Unicode's Cc: C0, DEL and C1).
  controle: /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/,
};

/** Errors that refuse one line while the session goes on. */
const RECUSAS_DE_LINHA = new Set(['TextoInvalido', 'SemConversa', 'EsperaCheia']);

const $ = (id) => document.getElementById(id);
const parametros = new URLSearchParams(location.search);
const noWidget = parametros.has('widget');
const urlWs = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
const codificador = new TextEncoder();

/** sessionStorage, or a map in memory where the browser refuses storage (a private mode, a
 * frame on a site whose cookies are blocked): then only a reload loses the chat. */
const armazenamento = (() => {
  try {
    const teste = '__fila_teste__';
    sessionStorage.setItem(teste, '1');
    sessionStorage.removeItem(teste);
    return sessionStorage;
  } catch {
    const memoria = new Map();
    return {
      getItem: (chave) => memoria.get(chave) ?? null,
      setItem: (chave, valor) => memoria.set(chave, String(valor)),
      removeItem: (chave) => memoria.delete(chave),
    };
  }
})();

function telaNova(estado = 'entrada') {
  return { falas: [], confirmada: 0, fila: null, estado, naEspera: { linhas: 0, bytes: 0 } };
}

function lerTela() {
  try {
    const tela = JSON.parse(armazenamento.getItem(CHAVE_TELA));
    return tela && Array.isArray(tela.falas) ? tela : null;
  } catch {
    return null;
  }
}

/** What the screen shows, as kept across reloads. */
let tela = lerTela() ?? telaNova();
let sessao = null;
/** The text of the last error the broker sent, for an ending it explains. */
let ultimoErro = null;

function guardarTela() {
  try {
    armazenamento.setItem(CHAVE_TELA, JSON.stringify(tela));
  } catch {
    // Full or refused: the chat goes on; only a reload would lose what is on screen.
  }
}

function hora(ms) {
  return new Date(ms).toLocaleTimeString('pt-BR', { hour: '2-digit', minute: '2-digit' });
}

/** Shows control characters of received text as a visible symbol (line breaks and tabs stay). */
function neutralizar(texto) {
  return String(texto).replace(new RegExp(REGRAS.controle.source, 'g'), '\ufffd');
}

/** Says `texto` to screen readers (the chat list itself is not a live region, so that a
 * reload or a delivery mark is not read out again). */
function anunciar(texto) {
  const regiao = $('anuncio');
  const item = document.createElement('p');
  item.textContent = texto;
  regiao.append(item);
  // Gone once read, so that the page does not hold every line twice for screen readers.
  setTimeout(() => item.remove(), 5000);
}

function marcar(item, fala) {
  const marca = item.querySelector('.marca');
  if (!marca) return;
  const [simbolo, texto] = fala.naoEntregue
    ? ['⚠', 'não entregue']
    : fala.seq <= tela.confirmada ? ['✓', 'enviada'] : ['…', 'enviando'];
  marca.querySelector('[aria-hidden]').textContent = simbolo;
  marca.querySelector('.oculto').textContent = texto;
  marca.title = texto;
}

function desenharFala(fala) {
  const item = document.createElement('li');
  item.className = fala.tipo;
  if (fala.tipo !== 'sistema') {
    const quem = document.createElement('span');
    quem.className = 'quem';
    quem.textContent = `${fala.tipo === 'cliente' ? 'Você' : neutralizar(fala.de)} · ${hora(fala.ms)}`;
    item.append(quem);
  }
  item.append(document.createTextNode(neutralizar(fala.texto)));
  if (fala.tipo === 'cliente') {
    const marca = document.createElement('span');
    marca.className = 'marca';
    const simbolo = document.createElement('span');
    simbolo.setAttribute('aria-hidden', 'true');
    const texto = document.createElement('span');
    texto.className = 'oculto';
    marca.append(simbolo, texto);
    item.append(marca);
    marcar(item, fala);
  }
  return item;
}

function desenharFalas() {
  $('falas').replaceChildren(...tela.falas.map(desenharFala));
  $('falas').lastElementChild?.scrollIntoView({ block: 'end' });
}

function desenharMarcas() {
  const itens = $('falas').children;
  tela.falas.forEach((fala, i) => {
    if (fala.tipo === 'cliente' && itens[i]) marcar(itens[i], fala);
  });
}

/** Adds a line to the screen (drawn first, then kept), following it only when the reader is
 * already at the end of the chat. */
function acrescentar(fala) {
  const lista = $('falas');
  const noFim = lista.scrollHeight - lista.scrollTop - lista.clientHeight < 80;
  const completa = { ms: Date.now(), ...fala };
  const item = desenharFala(completa);
  lista.append(item);
  tela.falas.push(completa);
  guardarTela();
  if (noFim || fala.tipo === 'cliente') item.scrollIntoView({ block: 'end' });
  if (fala.tipo === 'atendente') anunciar(`${neutralizar(fala.de)}: ${neutralizar(fala.texto)}`);
  if (fala.tipo === 'sistema') anunciar(fala.texto);
}

function sistema(texto) {
  acrescentar({ tipo: 'sistema', texto });
}

function mostrarEstado(texto, alerta = false) {
  $('estado').textContent = texto;
  $('estado').classList.toggle('alerta', alerta);
}

function textoFila(fila) {
  if (!fila) return '';
  const lugar = fila.posicao === 1 ? 'Você é o próximo da fila.' : `Você é o ${fila.posicao}º da fila.`;
  if (fila.atendentes === 0) {
    return `${lugar} Nenhum atendente online agora; você continua na fila e pode ir escrevendo.`;
  }
  const quantos = fila.atendentes === 1 ? '1 atendente online' : `${fila.atendentes} atendentes online`;
  let estimativa = '';
  if (fila.estimativa_s !== null && fila.estimativa_s !== undefined) {
    const minutos = Math.ceil(fila.estimativa_s / 60);
    estimativa = fila.estimativa_s < 60 ? ' Espera estimada: menos de 1 minuto.' : ` Espera estimada: cerca de ${minutos} min.`;
  }
  return `${lugar} ${quantos}.${estimativa}`;
}

const MOTIVOS = {
  ClienteSaiu: 'Você saiu da conversa.',
  ClienteDesconectou: 'A conexão caiu.',
  AtendenteEncerrou: 'O atendente encerrou a conversa.',
  AtendenteSaiu: 'O atendente saiu; você voltou para a fila no seu lugar.',
  AtendenteDesconectou: 'O atendente perdeu a conexão; você voltou para a fila no seu lugar.',
  BrokerEncerrando: 'O atendimento foi encerrado pelo servidor.',
  SemResposta: 'O atendente não respondeu; outro vai atender você.',
  Transferido: 'A conversa foi transferida.',
  SemRetomada: 'A conexão caiu e o atendimento não pôde continuar. Comece outra conversa.',
  RetomadaInvalida: 'Sua sessão expirou enquanto a conexão estava fora. Comece outra conversa.',
  OutraAba: 'Esta conversa está aberta em outra aba. Continue por lá.',
};

/** Shows the screen for `tela.estado`, and moves the focus where the customer acts next. */
function mostrarTela() {
  const entrada = tela.estado === 'entrada';
  const encerrada = tela.estado === 'encerrada';
  const avaliando = tela.estado === 'avaliacao';
  const estava = document.activeElement;
  $('entrada').hidden = !entrada;
  $('conversa').hidden = entrada;
  $('avaliacao').hidden = !avaliando;
  $('encerrada').hidden = !encerrada;
  $('form-mensagem').hidden = encerrada || avaliando;
  $('sair').hidden = encerrada || avaliando;
  if (encerrada) $('motivo-fim').textContent = tela.motivo ?? 'Conversa encerrada.';
  if (avaliando) mostrarPrazo();
  $('fila').textContent = tela.estado === 'fila' ? textoFila(tela.fila) : '';
  if (estava && estava !== document.body && estava.offsetParent === null) {
    // The focused control was just hidden: give the focus to what replaced it.
    if (encerrada) $('nova').focus();
    else if (avaliando) $('titulo-avaliacao').focus();
    else if (entrada) $('nome').focus();
    else $('texto').focus();
  }
}

function encerrar(motivo) {
  const perdidas = tela.falas.filter((f) => f.tipo === 'cliente' && !f.naoEntregue && f.seq > tela.confirmada);
  for (const fala of perdidas) fala.naoEntregue = true;
  const pendentes = perdidas.map((f) => f.texto);
  if ($('texto').value.trim()) pendentes.push($('texto').value);
  tela.paraDepois = pendentes;
  if (pendentes.length > 0) {
    motivo += ` ${pendentes.length === 1 ? 'Uma mensagem sua não foi entregue; ela' : `${pendentes.length} mensagens suas não foram entregues; elas`} volta${pendentes.length === 1 ? '' : 'm'} para a caixa se você começar outra conversa.`;
    desenharMarcas();
  }
  clearInterval(relogioDaNota);
  avisarWidget('encerrada');
  tela.estado = 'encerrada';
  tela.motivo = motivo;
  guardarTela();
  mostrarTela();
  mostrarEstado('Conversa encerrada.');
  anunciar(motivo);
  sessao = null;
}

let relogioDaNota = null;

/** Shows how long is left to rate, counting down each second. */
function mostrarPrazo() {
  const escrever = () => {
    const resta = Math.max(0, Math.ceil(((tela.prazo_ate ?? Date.now()) - Date.now()) / 1000));
    const tempo = resta >= 60 ? `${Math.floor(resta / 60)} min ${String(resta % 60).padStart(2, '0')} s` : `${resta} s`;
    $('prazo-avaliacao').textContent = `Escolha uma nota de 1 (ruim) a 5 (ótimo). Tempo restante: ${tempo}.`;
  };
  clearInterval(relogioDaNota);
  escrever();
  relogioDaNota = setInterval(escrever, 1000);
}

/** Tells the widget around the page (if any) something, without any chat content. */
function avisarWidget(tipo) {
  if (noWidget && window.parent !== window) window.parent.postMessage({ fila: tipo }, '*');
}

/** A line the broker refused (`Erro` before its `Confirmada`): the latest line still being
 * sent is marked as not delivered, and its text goes back to the box if the box is empty. */
function recusarUltima(texto) {
  const fala = [...tela.falas].reverse()
    .find((f) => f.tipo === 'cliente' && !f.naoEntregue && f.seq > tela.confirmada);
  if (!fala) return;
  fala.naoEntregue = true;
  guardarTela();
  desenharMarcas();
  if (!$('texto').value) $('texto').value = fala.texto;
  $('aviso').textContent = `A mensagem não foi entregue: ${texto}`;
}

const AO_ESTADO = {
  conectando: () => mostrarEstado('Conectando…'),
  conectado: () => mostrarEstado('Conectado.'),
  reconectando: () => mostrarEstado('Sem conexão. Reconectando… O que você escrever será enviado quando voltar.', true),
};

/** Wires a session's events to the screen. */
function ouvir(s) {
  const em = (nome, fazer) => s.addEventListener(nome, (evento) => fazer(evento.detail));
  em('estado', ({ estado, motivo }) => {
    AO_ESTADO[estado]?.();
    if (estado !== 'encerrada') return;
    sessao = null;
    // An entry refused (a bad name or department) goes back to the form, already showing why.
    if (tela.estado !== 'encerrada' && tela.estado !== 'entrada') {
      encerrar(MOTIVOS[motivo] ?? ultimoErro ?? 'A sessão terminou.');
    }
  });
  em('bemvindo', ({ ficha }) => {
    guardarSessaoNaAba(ficha);
    avisarWidget('ativa');
  });
  em('fila', (fila) => {
    if (tela.estado === 'conversa') tela.naEspera = { linhas: 0, bytes: 0 };
    const mudou = tela.fila?.posicao !== fila.posicao || tela.estado !== 'fila';
    tela.estado = 'fila';
    tela.fila = fila;
    guardarTela();
    mostrarTela();
    if (mudou) anunciar(textoFila(fila));
  });
  em('conectado', ({ com }) => {
    tela.estado = 'conversa';
    tela.com = com;
    $('aviso').textContent = '';
    sistema(`Você está falando com ${neutralizar(com)}.`);
    mostrarTela();
  });
  em('mensagem', ({ de, texto }) => {
    acrescentar({ tipo: 'atendente', de, texto });
    avisarWidget('nova');
  });
  em('transferido', ({ para }) => sistema(`Sua conversa foi transferida para ${neutralizar(para)}.`));
  em('parceiro', ({ conectado }) => {
    sistema(conectado ? 'O atendente voltou.' : 'O atendente perdeu a conexão; aguarde um pouco.');
  });
  em('fim', ({ conversa, motivo }) => {
    if (conversa !== 0) {
      sistema(MOTIVOS[motivo] ?? 'A conversa terminou.');
      return;
    }
    const agradecer = motivo === 'ClienteSaiu' && tela.avaliou;
    const semNota = tela.estado === 'avaliacao' && motivo === 'AtendenteEncerrou';
    encerrar(agradecer ? 'Obrigado pela sua avaliação!'
      : semNota ? 'O tempo para avaliar acabou; nenhuma nota foi registrada.'
        : (MOTIVOS[motivo] ?? 'Atendimento encerrado.'));
  });
  em('avaliacao', ({ prazo_s }) => {
    tela.estado = 'avaliacao';
    tela.prazo_s = prazo_s;
    tela.prazo_ate = Date.now() + prazo_s * 1000;
    tela.avaliou = false;
    guardarTela();
    for (const botao of $('avaliacao').querySelectorAll('button')) botao.disabled = false;
    mostrarTela();
    // The heading, not a grade: a key pressed while typing must not rate the chat.
    $('titulo-avaliacao').focus();
    $('aviso-avaliacao').textContent = $('texto').value.trim()
      ? 'O que estava na caixa não foi enviado: a conversa acabou antes.' : '';
    avisarWidget('nova');
  });
  em('confirmada', ({ seq }) => {
    tela.confirmada = Math.max(tela.confirmada, seq);
    guardarTela();
    desenharMarcas();
  });
  em('erro', ({ codigo, texto }) => {
    ultimoErro = neutralizar(texto);
    if (codigo === 'DepartamentoInvalido' || codigo === 'NomeInvalido') {
      tela = telaNova();
      guardarTela();
      mostrarTela();
      $('erro-entrada').textContent = ultimoErro;
      $('nome').focus();
      return;
    }
    if (RECUSAS_DE_LINHA.has(codigo)) recusarUltima(ultimoErro);
    else $('aviso').textContent = ultimoErro;
  });
}

/** Holds the session's lock for as long as the tab lives, so that a duplicated tab (which
 * copies sessionStorage, and so the session) does not run it a second time. */
function guardarSessaoNaAba(ficha) {
  if (!navigator.locks || !ficha?.some((byte) => byte !== 0)) return;
  const nome = `fila.sessao.${Array.from(ficha, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  navigator.locks.request(nome, () => new Promise(() => {}));
}

/** Whether another tab holds the session stored in this one (a duplicated tab). */
async function abertaEmOutraAba() {
  let salvo = null;
  try {
    salvo = JSON.parse(armazenamento.getItem(CHAVE_ARMAZENAMENTO));
  } catch {
    return false;
  }
  if (!navigator.locks || !salvo?.ficha) return false;
  const nome = `fila.sessao.${salvo.ficha}`;
  // A reload's old page may not have let go of it yet: look again before deciding.
  for (let vez = 0; vez < 3; vez += 1) {
    const { held } = await navigator.locks.query();
    if (!held.some((trava) => trava.name === nome)) return false;
    await new Promise((pronto) => setTimeout(pronto, 300));
  }
  return true;
}

function comecar(nome, departamento) {
  tela = { ...telaNova('fila'), nome, departamento };
  guardarTela();
  abrirSessao();
}

function abrirSessao() {
  sessao = new Sessao({ url: urlWs, nome: tela.nome, departamento: tela.departamento, armazenamento });
  ouvir(sessao);
  mostrarTela();
  sessao.iniciar();
}

/** Why a line cannot be sent now, or null. The text stays in the box either way. */
function recusaDoTexto(texto) {
  if (!texto.trim()) return 'Escreva alguma coisa antes de enviar.';
  const bytes = codificador.encode(texto).length;
  if (bytes > REGRAS.textoMaximo) return 'Mensagem longa demais: divida em partes menores.';
  if (REGRAS.controle.test(texto)) return 'A mensagem tem caracteres de controle.';
  if (tela.estado === 'fila') {
    const { linhas, bytes: antes } = tela.naEspera;
    if (linhas >= REGRAS.naEsperaMaximo || antes + bytes + 3 * (linhas + 1) > REGRAS.textoMaximo) {
      return 'Enquanto espera, dá para deixar até 10 mensagens; aguarde o atendente para escrever mais.';
    }
  }
  return null;
}

function enviarTexto() {
  const caixa = $('texto');
  const texto = caixa.value;
  const recusa = recusaDoTexto(texto);
  $('aviso').textContent = recusa ?? '';
  if (recusa || !sessao) return;
  let seq;
  try {
    seq = sessao.enviar(texto);
  } catch {
    $('aviso').textContent = 'Não foi possível enviar esta mensagem; ela continua na caixa.';
    return;
  }
  if (tela.estado === 'fila') {
    tela.naEspera.linhas += 1;
    tela.naEspera.bytes += codificador.encode(texto).length;
  }
  caixa.value = '';
  tela.rascunho = '';
  acrescentar({ tipo: 'cliente', texto, seq });
  caixa.focus();
}

function avaliar(nota) {
  for (const botao of $('avaliacao').querySelectorAll('button')) botao.disabled = true;
  tela.avaliou = nota !== null;
  guardarTela();
  try {
    if (nota === null) sessao?.sair();
    else sessao?.avaliar(nota);
  } catch {
    encerrar('Atendimento encerrado.');
  }
}

/** The departments the broker serves (`[]`: any name), from `/departamentos`. */
async function buscarDepartamentos() {
  const resposta = await fetch('/departamentos', { cache: 'no-store' });
  if (!resposta.ok) throw new Error(`HTTP ${resposta.status}`);
  const { departamentos } = await resposta.json();
  return Array.isArray(departamentos) ? departamentos : [];
}

async function prepararEntrada() {
  mostrarTela();
  const nome = parametros.get('nome');
  if (nome) $('nome').value = nome.slice(0, REGRAS.nomeMaximo);
  const pedido = (parametros.get('departamento') ?? '').trim().toLowerCase();
  const entrar = $('entrar');
  entrar.disabled = true;
  let nomes = [];
  try {
    nomes = await buscarDepartamentos();
  } catch {
    mostrarEstado('Não foi possível falar com o atendimento agora; tente de novo em instantes.', true);
  }
  const lista = $('departamento');
  const livre = $('departamento-livre');
  if (nomes.length > 0) {
    lista.replaceChildren(...nomes.map((n) => new Option(n, n, false, n === pedido)));
  } else {
    livre.value = pedido;
  }
  lista.hidden = nomes.length === 0;
  livre.hidden = nomes.length > 0;
  $('rotulo-departamento').htmlFor = nomes.length > 0 ? 'departamento' : 'departamento-livre';
  entrar.disabled = false;
  if (!$('nome').value) $('nome').focus();
}

function entrarNaFila(evento) {
  evento.preventDefault();
  const nome = $('nome').value.trim();
  const campo = $('departamento').hidden ? $('departamento-livre') : $('departamento');
  const departamento = campo.value.trim().toLowerCase() || 'geral';
  const recusa = !nome ? 'Diga seu nome.'
    : REGRAS.controle.test(nome) ? 'O nome tem caracteres que não podem ser usados.' : '';
  $('erro-entrada').textContent = recusa;
  if (recusa) {
    $('nome').focus();
    return;
  }
  comecar(nome, departamento);
  $('texto').focus();
}

function ligarControles() {
  $('form-entrada').addEventListener('submit', entrarNaFila);
  $('form-mensagem').addEventListener('submit', (evento) => {
    evento.preventDefault();
    enviarTexto();
  });
  $('texto').addEventListener('input', () => {
    tela.rascunho = $('texto').value;
    guardarTela();
  });
  $('texto').addEventListener('keydown', (evento) => {
    if (evento.key === 'Enter' && !evento.shiftKey && !evento.isComposing) {
      evento.preventDefault();
      enviarTexto();
    }
  });
  for (const botao of document.querySelectorAll('[data-nota]')) {
    botao.addEventListener('click', () => avaliar(Number(botao.dataset.nota)));
  }
  $('sem-nota').addEventListener('click', () => avaliar(null));
  $('sair').addEventListener('click', () => sessao?.sair());
  $('nova').addEventListener('click', () => {
    armazenamento.removeItem(CHAVE_TELA);
    const paraDepois = tela.paraDepois ?? [];
    tela = telaNova();
    $('texto').value = paraDepois.join('\n');
    tela.rascunho = $('texto').value;
    mostrarEstado('');
    desenharFalas();
    prepararEntrada();
  });
  // A phone whose network comes back need not wait out the reconnection's backoff.
  window.addEventListener('online', () => sessao?.reconectarJa());
  if (noWidget) {
    document.addEventListener('keydown', (evento) => {
      if (evento.key === 'Escape') avisarWidget('fechar');
    });
  }
}

async function iniciarPagina() {
  if (noWidget) document.body.classList.add('widget');
  ligarControles();
  desenharFalas();
  $('texto').value = tela.rascunho ?? '';
  if (tela.estado === 'entrada') {
    prepararEntrada();
  } else if (tela.estado === 'encerrada') {
    mostrarTela();
  } else if (armazenamento.getItem(CHAVE_ARMAZENAMENTO) === null) {
    // The chat on screen has no session to resume (the broker keeps none after a drop).
    encerrar(MOTIVOS.SemRetomada);
  } else if (await abertaEmOutraAba()) {
    mostrarTela();
    $('form-mensagem').hidden = true;
    $('sair').hidden = true;
    mostrarEstado(MOTIVOS.OutraAba, true);
  } else {
    abrirSessao();
    $('texto').focus();
  }
}

iniciarPagina();
