// Texts in English, and in Brazilian Portuguese when the browser's first language is
// Portuguese (pt, pt-BR, pt-PT).
const en = {
  title: 'FTTH feasibility console', skip: 'Skip to content', sections: 'Sections',
  map: 'Map', reservations: 'Reservations', installs: 'Installs to record',
  settings: 'Settings', integrations: 'Integrations', sign_out: 'Sign out',
  credential: 'Key or token', sign_in: 'Sign in',
  signin_hint: 'The key or token is kept in this tab only, and every action goes to the API with it.',
  plan: 'Plan', no_plan: 'No plan', radius: 'Radius (m)', demand: 'Demand', details: 'Details',
  check_centre: "Check the map's centre",
  check: 'Feasibility', check_hint: 'Click the map to check a point.',
  box: 'Box', box_hint: 'Click a box to see its splitters and ports.', legend: 'Legend',
  free_none: 'No free port', free_few: '1 to 3 free ports', free_many: '4 or more free ports',
  not_deployed: 'Not deployed', regions: 'Regions', no_regions: 'No region in view.',
  status: 'Status', any: 'Any', project: 'Project', code: 'Code',
  external_ref: 'External reference', created_from: 'Created from (UTC)', created_to: 'Created to (UTC)',
  inventory_confirmed: 'In the inventory', yes: 'Yes', no: 'No', apply: 'Apply', more: 'More',
  installs_hint: 'Installs completed here that the inventory does not show as used yet.',
  default_radius: 'Default radius (m)', max_radius: 'Maximum radius (m)',
  ttl: 'Reservation time to live (s)', save: 'Save', saved: 'Saved.',
  new_integration: 'New integration', create: 'Create',
  integration_json: 'Integration (JSON, as POST /integrations takes it)',
  confirm: 'Confirm', cancel: 'Cancel', complete: 'Complete', actions: 'Actions',
  port: 'Port', created_at: 'Created', created_by: 'Created by', customer: 'Customer', address: 'Address',
  none_found: 'Nothing found.', loading: 'Loading…',
  boxes_shown: (n) => `${n.toLocaleString('en')} boxes in view`,
  boxes_truncated: (n) => `${n.toLocaleString('en')} boxes shown; zoom in to see all`,
  feasible: 'Feasible', not_feasible: 'Not feasible', candidates: 'Candidates',
  at: 'At', radius_used: (r) => `within ${r} m`,
  reason_no_coverage: 'No box within the radius.',
  reason_network_not_deployed: 'The boxes within the radius are not deployed.',
  reason_plan_not_available: 'The plan is not sold where the boxes within the radius are.',
  reason_no_free_ports: 'The boxes within the radius have no free port.',
  distance: 'Distance (m)', free_ports: 'Free ports', splitters: 'Splitters', kind: 'Kind',
  ports: 'Ports', used: 'Used', held: 'Held', installed: 'Installed', free: 'Free',
  region_tags: 'Region tags', name: 'Name', modules: 'Modules', keys: 'Keys',
  webhooks: 'Webhooks', deliveries: 'Deliveries', open: 'Open', revoke: 'Revoke',
  issue_key: 'Issue a key', key_name: 'Name', key_kind: 'Kind',
  key_scopes: 'Scopes (comma-separated; empty: what the modules grant)',
  allowed_origins: 'Allowed origins (comma-separated, publishable keys)',
  new_key: 'New key, shown only now:', new_secret: 'New secret, shown only now:',
  prefix: 'Prefix', expires_at: 'Expires', revoked_at: 'Revoked', last_used_at: 'Last used',
  url: 'URL', events: 'Events (comma-separated)', enabled: 'Enabled', add_webhook: 'Add a webhook',
  rotate: 'Rotate secret', retry: 'Retry', disable: 'Disable', enable: 'Enable', delete: 'Delete',
  attempts: 'Attempts', last_status_code: 'Last answer', last_error: 'Last error',
  event: 'Event', type: 'Type', next_attempt_at: 'Next attempt', delivered_at: 'Delivered',
  retried: 'Retry asked.', demand_cells: (n) => `${n} demand cells`,
  signed_in_as: (s) => `Signed in as ${s}`,
  nothing_here: 'This credential has none of the scopes the console uses (feasibility, reservations:read, admin, events).',
  contacts_missing: 'Keys are issued once every contact is given.',
};

const pt = {
  title: 'Console de viabilidade FTTH', skip: 'Ir para o conteúdo', sections: 'Seções',
  map: 'Mapa', reservations: 'Reservas', installs: 'Instalações a registrar',
  settings: 'Configurações', integrations: 'Integrações', sign_out: 'Sair',
  credential: 'Chave ou token', sign_in: 'Entrar',
  signin_hint: 'A chave ou o token fica guardado só nesta aba, e toda ação vai à API com ele.',
  plan: 'Plano', no_plan: 'Sem plano', radius: 'Raio (m)', demand: 'Demanda', details: 'Detalhes',
  check_centre: 'Consultar o centro do mapa',
  check: 'Viabilidade', check_hint: 'Clique no mapa para consultar um ponto.',
  box: 'Caixa', box_hint: 'Clique numa caixa para ver seus splitters e portas.', legend: 'Legenda',
  free_none: 'Nenhuma porta livre', free_few: '1 a 3 portas livres', free_many: '4 ou mais portas livres',
  not_deployed: 'Não implantada', regions: 'Regiões', no_regions: 'Nenhuma região à vista.',
  status: 'Situação', any: 'Qualquer', project: 'Projeto', code: 'Código',
  external_ref: 'Referência externa', created_from: 'Criada desde (UTC)', created_to: 'Criada até (UTC)',
  inventory_confirmed: 'No inventário', yes: 'Sim', no: 'Não', apply: 'Aplicar', more: 'Mais',
  installs_hint: 'Instalações concluídas aqui que o inventário ainda não mostra como usadas.',
  default_radius: 'Raio padrão (m)', max_radius: 'Raio máximo (m)',
  ttl: 'Validade da reserva (s)', save: 'Salvar', saved: 'Salvo.',
  new_integration: 'Nova integração', create: 'Criar',
  integration_json: 'Integração (JSON, como POST /integrations recebe)',
  confirm: 'Confirmar', cancel: 'Cancelar', complete: 'Concluir', actions: 'Ações',
  port: 'Porta', created_at: 'Criada', created_by: 'Criada por', customer: 'Cliente', address: 'Endereço',
  none_found: 'Nada encontrado.', loading: 'Carregando…',
  boxes_shown: (n) => `${n.toLocaleString('pt-BR')} caixas à vista`,
  boxes_truncated: (n) => `${n.toLocaleString('pt-BR')} caixas mostradas; aproxime para ver todas`,
  feasible: 'Viável', not_feasible: 'Inviável', candidates: 'Candidatas',
  at: 'Em', radius_used: (r) => `num raio de ${r} m`,
  reason_no_coverage: 'Nenhuma caixa dentro do raio.',
  reason_network_not_deployed: 'As caixas dentro do raio não estão implantadas.',
  reason_plan_not_available: 'O plano não é vendido onde estão as caixas dentro do raio.',
  reason_no_free_ports: 'As caixas dentro do raio não têm porta livre.',
  distance: 'Distância (m)', free_ports: 'Portas livres', splitters: 'Splitters', kind: 'Tipo',
  ports: 'Portas', used: 'Usadas', held: 'Reservadas', installed: 'Instaladas', free: 'Livres',
  region_tags: 'Etiquetas da região', name: 'Nome', modules: 'Módulos', keys: 'Chaves',
  webhooks: 'Webhooks', deliveries: 'Entregas', open: 'Abrir', revoke: 'Revogar',
  issue_key: 'Emitir uma chave', key_name: 'Nome', key_kind: 'Tipo',
  key_scopes: 'Escopos (separados por vírgula; vazio: o que os módulos concedem)',
  allowed_origins: 'Origens permitidas (separadas por vírgula, chaves publicáveis)',
  new_key: 'Nova chave, mostrada só agora:', new_secret: 'Novo segredo, mostrado só agora:',
  prefix: 'Prefixo', expires_at: 'Expira', revoked_at: 'Revogada', last_used_at: 'Último uso',
  url: 'URL', events: 'Eventos (separados por vírgula)', enabled: 'Ativo', add_webhook: 'Adicionar um webhook',
  rotate: 'Trocar segredo', retry: 'Tentar de novo', disable: 'Desativar', enable: 'Ativar', delete: 'Excluir',
  attempts: 'Tentativas', last_status_code: 'Última resposta', last_error: 'Último erro',
  event: 'Evento', type: 'Tipo', next_attempt_at: 'Próxima tentativa', delivered_at: 'Entregue',
  retried: 'Nova tentativa pedida.', demand_cells: (n) => `${n} células de demanda`,
  signed_in_as: (s) => `Conectado como ${s}`,
  nothing_here: 'Esta credencial não tem nenhum dos escopos que o console usa (feasibility, reservations:read, admin, events).',
  contacts_missing: 'As chaves são emitidas quando todos os contatos forem informados.',
};

const first = (navigator.languages && navigator.languages[0]) || navigator.language || 'en';
export const lang = /^pt(-|$)/i.test(first) ? 'pt-BR' : 'en';
const texts = lang === 'pt-BR' ? pt : en;

/** The text for `key` (a function of `args` for counts and names). */
export function t(key, ...args) {
  const v = texts[key] ?? en[key] ?? key;
  return typeof v === 'function' ? v(...args) : v;
}

/** Writes the texts into the page's marked elements. */
export function translatePage(root = document) {
  document.documentElement.lang = lang;
  document.title = t('title');
  for (const el of root.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll('[data-t-label]')) el.setAttribute('aria-label', t(el.dataset.tLabel));
}
