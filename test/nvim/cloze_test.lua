-- Checks run after startup (nvim --headless --clean -u README-block.lua -c 'luafile cloze_test.lua' FILE):
-- the server attached, published diagnostics including the tokenizer's
-- label-word-multi-token, and answered code lenses with resolved titles.
-- Every wait has a deadline (vim.wait); failure exits with :cq (status 1).
local function say(text)
  io.stdout:write(text .. '\n')
end

local function fail(text)
  say('FAIL ' .. text)
  vim.cmd('cq')
end

local buf = vim.api.nvim_get_current_buf()
local name = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(buf), ':t')
say('nvim ' .. tostring(vim.version().major) .. '.' .. tostring(vim.version().minor) .. '.' .. tostring(vim.version().patch) .. ', ' .. name .. ', filetype ' .. vim.bo.filetype)
if vim.bo.filetype ~= 'cloze' then
  return fail('the file did not get the filetype cloze')
end

local function client()
  return vim.lsp.get_active_clients()[1]
end
if not vim.wait(10000, function() return client() ~= nil and client().initialized end, 20) then
  return fail('the cloze server did not start and initialize within 10 s')
end

local function codes()
  local list = {}
  for _, diagnostic in ipairs(vim.diagnostic.get(buf)) do
    table.insert(list, tostring(diagnostic.code))
  end
  return list
end
local function has(list, wanted)
  return vim.tbl_contains(list, wanted)
end

if not vim.wait(30000, function() return has(codes(), 'label-word-multi-token') end, 20) then
  return fail('no label-word-multi-token diagnostic within 30 s; diagnostics: ' .. table.concat(codes(), ', '))
end
local seen = codes()
for _, wanted in ipairs({ 'mask-multiple', 'mask-missing', 'label-undeclared', 'syntax' }) do
  if not has(seen, wanted) then
    return fail('no ' .. wanted .. ' diagnostic; diagnostics: ' .. table.concat(seen, ', '))
  end
end
-- The model is found only through the settings of the README's block (the runner sets no CLOZE_MODELS_DIR).
if has(seen, 'model-unavailable') then
  return fail('model-unavailable: the settings did not reach the server; diagnostics: ' .. table.concat(seen, ', '))
end
say('ok   ' .. #seen .. ' diagnostics: ' .. table.concat(seen, ', '))

if not (client().server_capabilities or {}).codeLensProvider then
  return fail('the server does not offer code lenses (no codeLensProvider in its capabilities)')
end

-- Neovim 0.7 cannot be told to refresh lenses (no workspace/codeLens/refresh),
-- so the test asks again, at most once a second, until resolved titles arrive.
-- A title with a probability: `68.0%` or `0.680`.
local function shows_probability(title)
  return title:find('%d%%') ~= nil or title:find('%f[%d]0%.%d') ~= nil
end
local function titles(only_probabilities)
  local list = {}
  for _, lens in ipairs(vim.lsp.codelens.get(buf)) do
    local title = lens.command and lens.command.title
    if title and (not only_probabilities or shows_probability(title)) then
      table.insert(list, 'line ' .. (lens.range.start.line + 1) .. ': ' .. title)
    end
  end
  return list
end
local asked = 0
local lensed = vim.wait(60000, function()
  if vim.loop.now() - asked >= 1000 then
    asked = vim.loop.now()
    vim.lsp.codelens.refresh()
  end
  return #titles(true) > 0
end, 50)
if not lensed then
  return fail('no code lens with label probabilities within 60 s; lenses: ' .. table.concat(titles(false), ' | '))
end
say('ok   ' .. #titles(true) .. ' code lenses with probabilities: ' .. table.concat(titles(true), ' | '))

-- No lens is said twice on one line (an example of a file with one scorable pattern once was).
local seen_titles = {}
for _, title in ipairs(titles(false)) do
  if seen_titles[title] then
    return fail('a lens is shown twice: ' .. title)
  end
  seen_titles[title] = true
end
say('ok   no lens repeated on its line')

-- The block's on_attach makes completion reachable (<C-x><C-o>).
if vim.bo[buf].omnifunc ~= 'v:lua.vim.lsp.omnifunc' then
  return fail('omnifunc is not set to the LSP client: ' .. vim.bo[buf].omnifunc)
end
say('ok   omnifunc is vim.lsp.omnifunc')

-- Whatever Neovim told the user (warnings of the LSP client included) is a failure.
local messages = vim.trim(vim.fn.execute('messages'))
if messages ~= '' then
  return fail('Neovim showed messages: ' .. messages)
end
say('ok   no messages')
vim.cmd('qa!')
