// The customer's chat page: the form, the place in line, the chat and the rating, on top of
// the protocol session of sessao.js. What is on screen is kept in sessionStorage with the
// session itself, so a reload (or a dropped network) resumes the chat with nothing lost.

import { Sessao, consultarDepartamentos } from './sessao.js';

const CHAVE_TELA = 'fila.tela';
const NA_ESPERA_MAXIMO = 10;
const TEXTO_MAXIMO = 16384;
const NOME_MAXIMO = 64;

const $ = (id) => document.getElementById(id);
const parametros = new URLSearchParams(location.search);
const urlWs = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
const codificador = new TextEncoder();

/** What the screen shows, as kept across reloads. */
let tela = lerTela() ?? { falas: [], confirmada: 0, fila: null, estado: 'entrada' };
let sessao = null;
/** Lines sent while waiting since the last `Conectado`: how many, and their bytes. */
let naEspera = { linhas: 0, bytes: 0, esperando: true };

function lerTela() {
  try {
    return JSON.parse(sessionStorage.getItem(CHAVE_TELA));
  } catch {
    return null;
  }
}

function guardarTela() {
  sessionStorage.setItem(CHAVE_TELA, JSON.stringify(tela));
}

function hora(ms) {
  return new Date(ms).toLocaleTimeString('pt-BR', { hour: '2-digit', minute: '2-digit' });
}

/** Shows control characters of received text as visible symbols (line breaks and tabs stay). */
function neutralizar(texto) {
  return String(texto).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd');
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
    const entregue = fala.seq <= tela.confirmada;
    marca.textContent = entregue ? '✓' : '…';
    marca.title = entregue ? 'entregue ao broker' : 'enviando';
    item.append(marca);
  }
  return item;
}

function desenharFalas() {
  $('falas').replaceChildren(...tela.falas.map(desenharFala));
  $('falas').lastElementChild?.scrollIntoView({ block: 'end' });
}

function acrescentar(fala) {
  tela.falas.push({ ms: Date.now(), ...fala });
  guardarTela();
  const item = desenharFala(tela.falas.at(-1));
  $('falas').append(item);
  item.scrollIntoView({ block: 'end' });
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
    return `${lugar} Nenhum atendente disponível agora; você continua na fila e pode ir escrevendo.`;
  }
  const quantos = fila.atendentes === 1 ? '1 atendente disponível' : `${fila.atendentes} atendentes disponíveis`;
  let estimativa = '';
  if (fila.estimativa_s !== null && fila.estimativa_s !== undefined) {
    const minutos = Math.ceil(fila.estimativa_s / 60);
    estimativa = fila.estimativa_s < 60 ? ' Espera estimada: menos de 1 minuto.' : ` Espera estimada: cerca de ${minutos} min.`;
  }
  return `${lugar} ${quantos}.${estimativa}`;
}

function mostrarFila() {
  $('fila').textContent = tela.estado === 'fila' ? textoFila(tela.fila) : '';
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
};

/** The text of the last error the broker sent, for an ending it explains. */
let ultimoErro = null;

/** Shows the screen for `tela.estado`. */
function mostrarTela() {
  const entrada = tela.estado === 'entrada';
  $('entrada').hidden = !entrada;
  $('conversa').hidden = entrada;
  const encerrada = tela.estado === 'encerrada';
  const avaliando = tela.estado === 'avaliacao';
  $('avaliacao').hidden = !avaliando;
  $('encerrada').hidden = !encerrada;
  $('form-mensagem').hidden = encerrada || avaliando;
  $('sair').hidden = encerrada || avaliando;
  if (encerrada) $('motivo-fim').textContent = tela.motivo ?? 'Conversa encerrada.';
  if (avaliando && tela.prazo_s) {
    $('prazo-avaliacao').textContent = `Escolha uma nota de 1 (ruim) a 5 (ótimo). Você tem ${Math.round(tela.prazo_s / 60) || 1} min.`;
  }
  mostrarFila();
}

function encerrar(motivo) {
  tela.estado = 'encerrada';
  tela.motivo = motivo;
  guardarTela();
  mostrarTela();
  mostrarEstado('Conversa encerrada.');
  sessao = null;
}

/** Wires a session's events to the screen. */
function ouvir(s) {
  const em = (nome, fazer) => s.addEventListener(nome, (evento) => fazer(evento.detail));
  em('estado', ({ estado, motivo }) => {
    if (estado === 'conectando') mostrarEstado('Conectando…');
    if (estado === 'conectado') mostrarEstado('Conectado.');
    if (estado === 'reconectando') {
      mostrarEstado('Sem conexão. Reconectando… O que você escrever será enviado quando voltar.', true);
    }
    if (estado !== 'encerrada') return;
    sessao = null;
    // An entry refused (a bad name or department) goes back to the form, already showing why.
    if (tela.estado !== 'encerrada' && tela.estado !== 'entrada') {
      encerrar(MOTIVOS[motivo] ?? ultimoErro ?? 'A sessão terminou.');
    }
  });
  em('fila', (fila) => {
    if (tela.estado === 'conversa') naEspera = { linhas: 0, bytes: 0, esperando: true };
    tela.estado = 'fila';
    tela.fila = fila;
    guardarTela();
    mostrarTela();
  });
  em('conectado', ({ com }) => {
    tela.estado = 'conversa';
    tela.com = com;
    naEspera = { linhas: 0, bytes: 0, esperando: false };
    sistema(`Você está falando com ${neutralizar(com)}.`);
    mostrarTela();
  });
  em('mensagem', ({ de, texto }) => acrescentar({ tipo: 'atendente', de, texto }));
  em('transferido', ({ para }) => sistema(`Sua conversa foi transferida para ${neutralizar(para)}.`));
  em('parceiro', ({ conectado }) => {
    sistema(conectado ? 'O atendente voltou.' : 'O atendente perdeu a conexão; aguarde um pouco.');
  });
  em('fim', ({ conversa, motivo }) => {
    if (conversa !== 0) {
      sistema(MOTIVOS[motivo] ?? 'A conversa terminou.');
      return;
    }
    const texto = motivo === 'ClienteSaiu' && tela.avaliou
      ? 'Obrigado pela sua avaliação!'
      : (MOTIVOS[motivo] ?? 'Atendimento encerrado.');
    encerrar(texto);
  });
  em('avaliacao', ({ prazo_s }) => {
    tela.estado = 'avaliacao';
    tela.prazo_s = prazo_s;
    guardarTela();
    mostrarTela();
    $('avaliacao').querySelector('button')?.focus();
  });
  em('confirmada', ({ seq }) => {
    tela.confirmada = Math.max(tela.confirmada, seq);
    guardarTela();
    desenharMarcas();
  });
  em('erro', ({ codigo, texto }) => {
    ultimoErro = neutralizar(texto);
    if (codigo === 'DepartamentoInvalido' || codigo === 'NomeInvalido') {
      tela.estado = 'entrada';
      guardarTela();
      mostrarTela();
      $('erro-entrada').textContent = neutralizar(texto);
      return;
    }
    $('aviso').textContent = neutralizar(texto);
  });
}

/** Marks each of the customer's lines as delivered or still being sent. */
function desenharMarcas() {
  const itens = $('falas').children;
  tela.falas.forEach((fala, i) => {
    if (fala.tipo !== 'cliente') return;
    const marca = itens[i]?.querySelector('.marca');
    if (!marca) return;
    const entregue = fala.seq <= tela.confirmada;
    marca.textContent = entregue ? '✓' : '…';
    marca.title = entregue ? 'entregue ao broker' : 'enviando';
  });
}

function comecar(nome, departamento) {
  tela = { falas: [], confirmada: 0, fila: null, estado: 'fila', nome, departamento };
  guardarTela();
  abrirSessao();
}

function abrirSessao() {
  sessao = new Sessao({
    url: urlWs,
    nome: tela.nome,
    departamento: tela.departamento,
    armazenamento: sessionStorage,
  });
  ouvir(sessao);
  mostrarTela();
  sessao.iniciar();
}

/** Why a line cannot be sent now, or null. The text stays in the box either way. */
function recusaDoTexto(texto) {
  if (!texto.trim()) return 'Escreva alguma coisa antes de enviar.';
  const bytes = codificador.encode(texto).length;
  if (bytes > TEXTO_MAXIMO) return 'Mensagem longa demais: divida em partes menores.';
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(texto)) return 'A mensagem tem caracteres de controle.';
  if (tela.estado === 'fila' && naEspera.esperando) {
    if (naEspera.linhas >= NA_ESPERA_MAXIMO || naEspera.bytes + bytes + 3 * (naEspera.linhas + 1) > TEXTO_MAXIMO) {
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
  const seq = sessao.enviar(texto);
  if (tela.estado === 'fila' && naEspera.esperando) {
    naEspera.linhas += 1;
    naEspera.bytes += codificador.encode(texto).length;
  }
  acrescentar({ tipo: 'cliente', texto, seq });
  caixa.value = '';
  caixa.focus();
}

async function prepararEntrada() {
  mostrarTela();
  const nome = parametros.get('nome');
  if (nome) $('nome').value = nome.slice(0, NOME_MAXIMO);
  const pedido = (parametros.get('departamento') ?? '').trim().toLowerCase();
  let nomes = [];
  try {
    nomes = await consultarDepartamentos(urlWs);
  } catch {
    mostrarEstado('Não foi possível falar com o atendimento agora; tente de novo em instantes.', true);
  }
  if (nomes.length > 0) {
    const lista = $('departamento');
    lista.replaceChildren(...nomes.map((nome) => new Option(nome, nome, false, nome === pedido)));
    lista.hidden = false;
  } else {
    const livre = $('departamento-livre');
    livre.value = pedido;
    livre.hidden = false;
  }
  $('nome').focus();
}

function iniciarPagina() {
  if (parametros.has('widget')) document.body.classList.add('widget');
  $('form-entrada').addEventListener('submit', (evento) => {
    evento.preventDefault();
    const nome = $('nome').value.trim();
    const departamento = ($('departamento').hidden ? $('departamento-livre').value : $('departamento').value).trim().toLowerCase() || 'geral';
    if (!nome) {
      $('erro-entrada').textContent = 'Diga seu nome.';
      $('nome').focus();
      return;
    }
    $('erro-entrada').textContent = '';
    comecar(nome, departamento);
    $('texto').focus();
  });
  $('form-mensagem').addEventListener('submit', (evento) => {
    evento.preventDefault();
    enviarTexto();
  });
  $('texto').addEventListener('keydown', (evento) => {
    if (evento.key === 'Enter' && !evento.shiftKey && !evento.isComposing) {
      evento.preventDefault();
      enviarTexto();
    }
  });
  for (const botao of document.querySelectorAll('[data-nota]')) {
    botao.addEventListener('click', () => {
      tela.avaliou = true;
      guardarTela();
      sessao?.avaliar(Number(botao.dataset.nota));
    });
  }
  $('sem-nota').addEventListener('click', () => sessao?.sair());
  $('sair').addEventListener('click', () => sessao?.sair());
  $('nova').addEventListener('click', () => {
    sessionStorage.removeItem(CHAVE_TELA);
    tela = { falas: [], confirmada: 0, fila: null, estado: 'entrada' };
    mostrarEstado('');
    desenharFalas();
    prepararEntrada();
  });

  desenharFalas();
  if (tela.estado === 'entrada') {
    prepararEntrada();
  } else if (tela.estado === 'encerrada') {
    mostrarTela();
  } else {
    // A reload in the middle of a session: resume it.
    abrirSessao();
  }
}

iniciarPagina();
