#compdef quire-hook
# zsh completion for quire-hook (urfave/cli's script). Install it as
# _quire-hook in a directory of $fpath:
#   quire-hook completion zsh > "${fpath[1]}/_quire-hook"

_quire_hook() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi

  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}

compdef _quire_hook quire-hook
