# SPDX-License-Identifier: MIT
# mlpcl.bash: bash completion for mlpcl: the commands, each command's options (read from its
# own --help, so the two never disagree), file names after options that take a FILE, PATH or
# DIR, the choices an option lists (mse|ce), and device selectors (`mlpcl devices`) after -d.

# "OPTION META" for each option command $2 of binary $1 lists in its help: the option lines
# begin with two to six spaces and a dash; META is the word after the option names, if any.
_mlpcl_options() {
    local line w meta opts words
    while IFS= read -r line; do
        [[ $line =~ ^\ {2,6}- ]] || continue
        read -ra words <<<"$line"
        opts=() meta=
        for w in "${words[@]}"; do
            if [[ $w == -* ]]; then opts+=("${w%,}"); else meta=$w; break; fi
        done
        for w in "${opts[@]}"; do printf '%s %s\n' "$w" "$meta"; done
    done < <("$1" "$2" --help 2>/dev/null)
}

# Sets COMPREPLY to the candidates ($2…) that begin with the word $1. Bash replaces only the
# part of the word after its last COMP_WORDBREAKS character (':' in 0:1, '=' in --x=FILE), so
# that part is what each reply holds.
_mlpcl_reply() {
    local cur=$1 pre= c i
    shift
    for ((i = ${#cur} - 1; i >= 0; i--)); do
        if [[ $COMP_WORDBREAKS == *"${cur:i:1}"* ]]; then
            pre=${cur:0:i+1}
            break
        fi
    done
    COMPREPLY=()
    for c in "$@"; do
        [[ $c == "$cur"* ]] && COMPREPLY+=("${c#"$pre"}")
    done
}

_mlpcl() {
    # The words as the shell will pass them (split at blanks only), up to the cursor.
    local line=${COMP_LINE:0:COMP_POINT} words cur prev bin cmd
    read -ra words <<<"$line"
    [[ $line =~ [[:space:]]$ ]] && words+=("")
    local n=${#words[@]}
    cur=${words[n - 1]}
    prev=${words[n - 2]}
    bin=${words[0]}
    cmd=${words[1]}
    local commands="train predict devices bench tune gen help"
    if ((n == 2)); then
        if [[ $cur == -* ]]; then
            _mlpcl_reply "$cur" --help --version
        else
            _mlpcl_reply "$cur" $commands
        fi
        return
    fi
    if [[ $cmd == help ]]; then
        ((n == 3)) && _mlpcl_reply "$cur" $commands
        return
    fi
    [[ " $commands " == *" $cmd "* ]] || return

    # The option a value is being completed for: --name=VALUE in one word, or after it.
    local opt= val= lead= o m meta=
    if [[ $cur == --*=* ]]; then
        opt=${cur%%=*} val=${cur#*=} lead=$opt=
    elif [[ $prev == -* ]]; then
        opt=$prev val=$cur
    fi
    local names=()
    while read -r o m; do
        names+=("$o")
        [[ -n $opt && $o == "$opt" ]] && meta=${m:-none}
    done < <(_mlpcl_options "$bin" "$cmd")

    if [[ -n $meta && $meta != none ]]; then
        local values=() v
        case $opt in
        --device | -d)
            values=(gpu cpu accelerator)
            [[ $cmd == bench ]] && values+=(all)
            while read -r v _; do
                [[ -n $v ]] && values+=("$v")
            done < <("$bin" devices 2>/dev/null)
            ;;
        --precision | -p) values=(float double) ;;
        --activation | -a) values=(sigmoid tanh relu) ;;
        --workloads | -w) values=(tutorial 784-256-10 784-1024-10 epoch) ;;
        *)
            case $meta in
            FILE | PATH)
                compopt -o filenames 2>/dev/null
                mapfile -t values < <(compgen -f -- "$val")
                ;;
            DIR)
                compopt -o filenames 2>/dev/null
                mapfile -t values < <(compgen -d -- "$val")
                ;;
            *'|'*) IFS='|' read -ra values <<<"$meta" ;;
            esac
            ;;
        esac
        local full=()
        for v in "${values[@]}"; do full+=("$lead$v"); done
        _mlpcl_reply "$cur" "${full[@]}"
        return
    fi
    [[ $cur == -* ]] && _mlpcl_reply "$cur" "${names[@]}"
}

complete -F _mlpcl mlpcl
