;;; cloze-test.el --- checks run in Emacs after the README's eglot setup  -*- lexical-binding: t -*-
;; emacs --batch -l README-block.el -l cloze-test.el (test/emacs/run.mjs): opens
;; CLOZE_TEST_FILE, waits for eglot to connect and for Flymake to show the
;; server's diagnostics, including the tokenizer's label-word-multi-token (found
;; only through the settings of the README's block), then shuts the server down.
;; Every wait has a deadline; a failure exits with status 1.

(defun cloze-test-say (format-string &rest args)
  (princ (concat (apply #'format format-string args) "\n")))

(defun cloze-test-fail (format-string &rest args)
  (cloze-test-say "FAIL %s" (apply #'format format-string args))
  (kill-emacs 1))

(defun cloze-test-wait (seconds predicate)
  "Wait up to SECONDS for PREDICATE, running the post-command hooks as a user's commands would."
  (let ((deadline (+ (float-time) seconds)))
    (while (and (not (funcall predicate)) (< (float-time) deadline))
      ;; Batch mode runs no commands: eglot-ensure and Flymake wait for one.
      (run-hooks 'post-command-hook)
      (accept-process-output nil 0.05))
    (funcall predicate)))

(find-file (getenv "CLOZE_TEST_FILE"))
(cloze-test-say "emacs %s, eglot %s, %s, %s" emacs-version
                (or (and (fboundp 'package-get-version) (ignore-errors (package-get-version))) "?")
                (buffer-name) major-mode)
(unless (eq major-mode 'cloze-mode)
  (cloze-test-fail "the file opened in %s, not cloze-mode" major-mode))

(unless (cloze-test-wait 15 (lambda () (eglot-current-server)))
  (cloze-test-fail "eglot did not connect to the cloze server within 15 s"))
(cloze-test-say "ok   eglot connected to %s" (plist-get (eglot--server-info (eglot-current-server)) :name))

(defun cloze-test-texts ()
  (mapcar #'flymake-diagnostic-text (flymake-diagnostics)))

(unless (cloze-test-wait 30 (lambda () (seq-some (lambda (text) (string-match-p "is not one token" text)) (cloze-test-texts))))
  (cloze-test-fail "no label-word-multi-token diagnostic within 30 s; diagnostics: %S" (cloze-test-texts)))
(when (seq-some (lambda (text) (string-match-p "is unavailable" text)) (cloze-test-texts))
  (cloze-test-fail "a model is unavailable: the settings did not reach the server; %S" (cloze-test-texts)))
(cloze-test-say "ok   %d diagnostics through Flymake, among them: %s" (length (cloze-test-texts))
                (seq-find (lambda (text) (string-match-p "is not one token" text)) (cloze-test-texts)))

(let ((server (eglot-current-server)))
  (eglot-shutdown server))
(kill-emacs 0)
