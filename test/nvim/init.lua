-- The Neovim setup of the README ("Other editors"), as an init file for the
-- headless test (test/nvim/run.mjs). Paths come from the environment so the
-- test runs from any checkout; otherwise it is the snippet users copy.
local server = os.getenv('CLOZE_SERVER')
local models_dir = os.getenv('CLOZE_MODELS_DIR')
local node = os.getenv('CLOZE_NODE') or 'node'

-- Neovim 0.7 detects filetypes from Lua only when asked to (0.8+ always does);
-- without this a .cloze file starting with a `#` comment becomes `conf`.
vim.g.do_filetype_lua = 1
vim.filetype.add({ extension = { cloze = 'cloze' } })

local cloze_client -- one server for every .cloze buffer
vim.api.nvim_create_autocmd('FileType', {
  pattern = 'cloze',
  callback = function(args)
    cloze_client = cloze_client
      or vim.lsp.start_client({
        name = 'cloze',
        cmd = { node, server, '--stdio' },
        -- Neovim 0.7 pushes these with workspace/didChangeConfiguration; 0.8+
        -- also answers the server's workspace/configuration requests with them.
        settings = { cloze = { modelsDir = models_dir, allowRemoteModels = false } },
        -- Code lenses (the preview) are drawn only when asked for. Ask once the
        -- server is attached: on 0.7 a refresh before that fails and blocks all later ones.
        on_attach = function(_, bufnr)
          vim.api.nvim_create_autocmd({ 'BufEnter', 'CursorHold', 'InsertLeave' }, { buffer = bufnr, callback = vim.lsp.codelens.refresh })
          vim.lsp.codelens.refresh()
        end,
      })
    vim.lsp.buf_attach_client(args.buf, cloze_client)
  end,
})
