// End-to-end test of the web page in a real browser (Debian's Chromium, driven by
// playwright-core), against a running broker and a scripted `atendente --json`. Run by the
// Rust test tests/tests/navegador.rs, which starts the broker and passes, in the environment:
// BROKER_WEB (http://HOST:PORT of --web, through a relay the test can cut), BROKER_TCP
// (host:port), ATENDENTE (the agent app's binary), TOKEN (an agent token), CHROMIUM (the
// browser) and CAPTURAS (a folder for the screenshots). To cut the network it prints
// `pedido:derrubar` (or `pedido:religar`) and waits for `feito` on stdin. It exits 0 when every
// step held, and 1 with the reason otherwise.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const ambiente = (nome) => {
  const valor = process.env[nome];
  if (!valor) throw new Error(`falta a variável de ambiente ${nome}`);
  return valor;
};
const WEB = ambiente('BROKER_WEB');
const TCP = ambiente('BROKER_TCP');
const CAPTURAS = ambiente('CAPTURAS');
const PACIENCIA_MS = 20000;

const doTeste = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Asks the Rust test to do something to the network between the browser and the broker. */
async function pedir(acao) {
  console.log(`pedido:${acao}`);
  const { value } = await doTeste.next();
  assert.equal(value, 'feito', `the test did ${acao}`);
}

/** A scripted `atendente --json`: its events as they come, and its stdin. */
class Atendente {
  constructor(nome, departamentos) {
    this.eventos = [];
    this.esperas = [];
    this.processo = spawn(ambiente('ATENDENTE'), [
      '--json', '--nome', nome, '--departamentos', departamentos,
      '--token', ambiente('TOKEN'), '--servidor', TCP,
    ], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.processo.stdout }).on('line', (linha) => {
      this.eventos.push(JSON.parse(linha));
      this.esperas = this.esperas.filter((espera) => !espera());
    });
  }

  /** The first event (from `desde` on) named `nome` that `condicao` accepts. */
  esperar(nome, condicao = () => true, desde = 0) {
    const achar = () => this.eventos.slice(desde).find((e) => e.evento === nome && condicao(e));
    return new Promise((resolver, rejeitar) => {
      const prazo = setTimeout(() => rejeitar(new Error(`o atendente não recebeu ${nome} a tempo: ${JSON.stringify(this.eventos)}`)), PACIENCIA_MS);
      const espera = () => {
        const evento = achar();
        if (evento) {
          clearTimeout(prazo);
          resolver(evento);
        }
        return Boolean(evento);
      };
      if (!espera()) this.esperas.push(espera);
    });
  }

  escrever(linha) {
    this.processo.stdin.write(`${linha}\n`);
  }

  /** The chat lines it received, in order. */
  recebidas() {
    const linhas = [];
    for (const evento of this.eventos) {
      if (evento.evento === 'na_espera') linhas.push(...evento.textos);
      if (evento.evento === 'mensagem') linhas.push(evento.texto);
    }
    return linhas;
  }

  encerrar() {
    this.processo.stdin.end();
    this.processo.kill();
  }
}

async function capturar(pagina, nome) {
  await pagina.screenshot({ path: join(CAPTURAS, `${nome}.png`) });
}

/** The chat's lines on the page, as [class, text] pairs. */
async function falasNaPagina(pagina) {
  return pagina.locator('#falas li').evaluateAll((itens) => itens.map((item) => [item.className, item.textContent]));
}

async function esperarFala(pagina, classe, texto) {
  await pagina.locator(`#falas li.${classe}`, { hasText: texto }).first().waitFor({ timeout: PACIENCIA_MS });
}

/** Types a line in the page's box and sends it with Enter, as a keyboard user would. */
async function digitar(pagina, texto) {
  await pagina.locator('#texto').fill(texto);
  await pagina.locator('#texto').press('Enter');
  await esperarFala(pagina, 'cliente', texto);
}

async function conversaComRecarga(navegador) {
  const contexto = await navegador.newContext({ viewport: { width: 390, height: 780 }, locale: 'pt-BR' });
  const pagina = await contexto.newPage();
  const erros = [];
  pagina.on('pageerror', (erro) => erros.push(String(erro)));
  await pagina.goto(`${WEB}/`);

  // The form, with the broker's departments.
  await pagina.locator('#departamento option[value="vendas"]').waitFor({ state: 'attached', timeout: PACIENCIA_MS });
  await pagina.locator('#nome').fill('Ana Clara');
  await pagina.locator('#departamento').selectOption('vendas');
  await capturar(pagina, 'entrada');
  await pagina.locator('#nome').press('Enter');

  // Nobody online yet: the place in line says so, and a line can be left for the agent.
  await pagina.locator('#fila', { hasText: 'Nenhum atendente' }).waitFor({ timeout: PACIENCIA_MS });
  const primeira = 'Oi, alguém aí? 👋';
  await digitar(pagina, primeira);
  await capturar(pagina, 'fila');

  const yuri = new Atendente('Yuri', 'vendas');
  const conectado = await yuri.esperar('conectado', (e) => e.com === 'Ana Clara');
  const naEspera = await yuri.esperar('na_espera');
  assert.deepEqual(naEspera.textos, [primeira]);
  await esperarFala(pagina, 'sistema', 'Você está falando com Yuri');

  // Both ways, with accents and emoji.
  const dele = 'Olá, Ana! Em que posso ajudar? 😊';
  yuri.escrever(dele);
  await esperarFala(pagina, 'atendente', dele);
  const dela = 'Meu pedido não chegou — é urgente ☕';
  await digitar(pagina, dela);
  await yuri.esperar('mensagem', (e) => e.texto === dela);
  await capturar(pagina, 'conversa');

  // A line sent right before a reload, and one from the agent during it: both arrive once.
  const antes = 'Vou recarregar a página agora 🔄';
  await pagina.locator('#texto').fill(antes);
  await pagina.locator('#texto').press('Enter');
  const durante = 'Pode me passar o número do pedido?';
  const recarga = pagina.reload();
  yuri.escrever(durante);
  await recarga;
  await esperarFala(pagina, 'atendente', durante);
  await yuri.esperar('mensagem', (e) => e.texto === antes);
  const depois = 'É o 12345, ação rápida por favor 🙏';
  await digitar(pagina, depois);
  await yuri.esperar('mensagem', (e) => e.texto === depois);
  assert.deepEqual(yuri.recebidas(), [primeira, dela, antes, depois], 'the agent got every line once, in order');
  const falas = await falasNaPagina(pagina);
  const textos = falas.filter(([classe]) => classe !== 'sistema').map(([classe, texto]) => [classe, texto]);
  for (const [classe, linha] of [['cliente', primeira], ['atendente', dele], ['cliente', dela], ['cliente', antes], ['atendente', durante], ['cliente', depois]]) {
    const vezes = textos.filter(([c, texto]) => c === classe && texto.includes(linha)).length;
    assert.equal(vezes, 1, `"${linha}" is on the page once after the reload: ${JSON.stringify(falas)}`);
  }

  // A duplicated tab carries the session in its copy of sessionStorage: it must not run it too.
  const copia = await pagina.evaluate(() => JSON.stringify(Object.entries(sessionStorage)));
  const duplicada = await contexto.newPage();
  await duplicada.addInitScript(([origem, itens]) => {
    if (location.origin !== origem) return;
    for (const [chave, valor] of JSON.parse(itens)) sessionStorage.setItem(chave, valor);
  }, [new URL(WEB).origin, copia]);
  await duplicada.goto(`${WEB}/`);
  await duplicada.locator('#estado', { hasText: 'aberta em outra aba' }).waitFor({ timeout: PACIENCIA_MS });
  assert.equal(await duplicada.locator('#texto').isVisible(), false, 'the duplicate cannot type');
  await duplicada.close();

  // The network drops: the page says so, keeps what is typed meanwhile, and resumes by itself.
  await pedir('derrubar');
  await pagina.locator('#estado', { hasText: 'Reconectando' }).waitFor({ timeout: PACIENCIA_MS });
  const semRede = 'Escrevi isto sem conexão 📵';
  await digitar(pagina, semRede);
  await capturar(pagina, 'reconectando');
  await pedir('religar');
  await yuri.esperar('mensagem', (e) => e.texto === semRede);
  await pagina.locator('#estado', { hasText: 'Conectado' }).waitFor({ timeout: PACIENCIA_MS });
  assert.deepEqual(yuri.recebidas(), [primeira, dela, antes, depois, semRede], 'nothing lost or doubled by the drop');

  // The agent ends the chat; the customer rates it.
  yuri.escrever('/fim');
  await yuri.esperar('fim', (e) => e.conversa === conectado.conversa && e.motivo === 'atendente_encerrou');
  await pagina.locator('#avaliacao').waitFor({ timeout: PACIENCIA_MS });
  assert.equal(await pagina.evaluate(() => document.activeElement?.id), 'titulo-avaliacao',
    'the focus goes to the question, so a key pressed while typing gives no grade');
  await capturar(pagina, 'avaliacao');
  await pagina.locator('[data-nota="5"]').focus();
  await pagina.keyboard.press('Enter');
  await pagina.locator('#motivo-fim', { hasText: 'Obrigado pela sua avaliação' }).waitFor({ timeout: PACIENCIA_MS });
  await capturar(pagina, 'fim');
  assert.equal(await pagina.evaluate(() => sessionStorage.getItem('fila.sessao')), null, 'the ended session is forgotten');
  assert.deepEqual(erros, [], 'no script error on the page');
  yuri.encerrar();
  await contexto.close();
}

/** A WebSocket opened from a page at `pagina`'s origin to the broker: whether it opened. */
async function websocketAbre(pagina) {
  const alvo = `${WEB.replace('http', 'ws')}/ws`;
  return pagina.evaluate((url) => new Promise((resolver) => {
    const ws = new WebSocket(url);
    ws.onopen = () => { ws.close(); resolver(true); };
    ws.onerror = () => resolver(false);
  }), alvo);
}

/** A fake shop at `origem` with the widget on it. */
async function loja(contexto, origem) {
  await contexto.route(`${origem}/**`, (rota) => rota.fulfill({
    contentType: 'text/html; charset=utf-8',
    body: `<!doctype html><html lang="pt-BR"><head><meta charset="utf-8"><title>Loja</title></head>
      <body><h1>Loja de exemplo</h1><p>Produtos, preços e frete.</p>
      <script src="${WEB}/widget.js" data-departamento="vendas"></script></body></html>`,
  }));
}

async function origens(navegador) {
  const contexto = await navegador.newContext({ viewport: { width: 1024, height: 720 }, locale: 'pt-BR' });
  const pagina = await contexto.newPage();

  // The broker's own page may connect; a page of another origin may not.
  await pagina.goto(`${WEB}/`);
  assert.equal(await websocketAbre(pagina), true, 'the same origin connects');
  const intruso = 'http://intruso.exemplo';
  await contexto.route(`${intruso}/**`, (rota) => rota.fulfill({ contentType: 'text/html', body: '<!doctype html><title>x</title>' }));
  await pagina.goto(`${intruso}/`);
  assert.equal(await websocketAbre(pagina), false, 'another origin is refused');

  // The widget on an allowed shop: the bubble opens the chat in a frame.
  await loja(contexto, 'http://loja.exemplo');
  await pagina.goto('http://loja.exemplo/');
  const bolha = pagina.getByRole('button', { name: 'Fale conosco' });
  await bolha.click();
  const quadro = pagina.frameLocator('iframe[title="Fale conosco"]');
  await quadro.locator('#nome').fill('Bia');
  await quadro.locator('#departamento option[value="vendas"]').waitFor({ state: 'attached', timeout: PACIENCIA_MS });
  assert.equal(await quadro.locator('#departamento').inputValue(), 'vendas', 'the widget preselects its department');
  await quadro.locator('#nome').press('Enter');
  await quadro.locator('#fila', { hasText: 'fila' }).waitFor({ timeout: PACIENCIA_MS });
  await capturar(pagina, 'widget');

  // Nobody serves vendas now: ten lines may wait for the agent, an eleventh stays in the box.
  for (let i = 1; i <= 10; i += 1) {
    await quadro.locator('#texto').fill(`linha ${i} na espera`);
    await quadro.locator('#texto').press('Enter');
  }
  await quadro.locator('#falas li.cliente', { hasText: 'linha 10 na espera' }).waitFor({ timeout: PACIENCIA_MS });
  await quadro.locator('#texto').fill('a décima primeira');
  await quadro.locator('#texto').press('Enter');
  await quadro.locator('#aviso', { hasText: 'até 10 mensagens' }).waitFor({ timeout: PACIENCIA_MS });
  assert.equal(await quadro.locator('#texto').inputValue(), 'a décima primeira', 'the refused line stays in the box');
  assert.equal(await quadro.locator('#falas li.cliente').count(), 10);

  // Esc inside the chat closes the bubble.
  await quadro.locator('#texto').press('Escape');
  await pagina.getByRole('button', { name: 'Fale conosco' }).waitFor({ timeout: PACIENCIA_MS });
  assert.equal(await pagina.locator('iframe[title="Fale conosco"]').isVisible(), false, 'Esc closed the chat');

  // The same widget on a shop that is not allowed: the browser refuses to show the chat.
  await loja(contexto, 'http://outra.exemplo');
  await pagina.goto('http://outra.exemplo/');
  const [moldura] = await Promise.all([
    pagina.waitForEvent('frameattached'),
    pagina.getByRole('button', { name: 'Fale conosco' }).click(),
  ]);
  await moldura.waitForLoadState('load');
  assert.equal(await moldura.locator('#nome').count(), 0, 'a site not in --origens cannot frame the chat');
  await contexto.close();
}

// Every site of this test is on the loopback, while the browser takes the fake shops for public
// ones: its checks of requests from public sites to the local network would block the widget's
// script, which on a real deployment comes from a public broker.
const navegador = await chromium.launch({
  executablePath: ambiente('CHROMIUM'),
  headless: true,
  args: ['--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests'],
});
try {
  await conversaComRecarga(navegador);
  await origens(navegador);
  console.log('navegador: tudo certo');
} catch (erro) {
  console.error(erro);
  process.exitCode = 1;
} finally {
  await navegador.close();
  process.stdin.destroy();
}
