# bash completion for quire-hook. Install it with
#   quire-hook completion bash > /etc/bash_completion.d/quire-hook
# or source it from ~/.bashrc. Like urfave/cli's own script, it asks
# quire-hook for the words that fit (--generate-bash-completion), but it
# does not need the bash-completion package.
_quire_hook() {
  local cur=${COMP_WORDS[COMP_CWORD]} opts
  local words=("${COMP_WORDS[@]:0:COMP_CWORD}")
  if [[ $cur == -* ]]; then
    words+=("$cur")
  fi
  # eval, so that a binary typed as ~/go/bin/quire-hook is found.
  opts=$(eval "${words[*]} --generate-bash-completion" 2>/dev/null)
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o bashdefault -o default -F _quire_hook quire-hook
