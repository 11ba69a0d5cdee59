//! What can be wrong with the query options of a SensorThings request.

/// Everything that can be wrong with query options: their syntax, size, properties, types and values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The text does not follow the grammar; `pos` is a byte offset in the option's value.
    #[error("at {pos}: {message}")]
    Syntax {
        /// Byte offset of the offending text.
        pos: usize,
        /// What was expected or found.
        message: String,
    },
    /// Parentheses, calls, `not`, unary minus or arithmetic nested deeper than `max`.
    #[error("at {pos}: expression nested deeper than {max} levels")]
    TooDeep {
        /// Byte offset where the limit was passed.
        pos: usize,
        /// The limit ([`super::filter::MAX_DEPTH`]).
        max: usize,
    },
    /// An option value longer than the server accepts.
    #[error("{length} bytes long, more than the {max} accepted")]
    TooLong {
        /// Length of the value in bytes.
        length: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A property path the entity set does not have.
    #[error("unknown property `{path}` for {entity_set}")]
    UnknownProperty {
        /// The path as written, segments joined with `/`.
        path: String,
        /// The entity set queried, e.g. `Observations`.
        entity_set: String,
    },
    /// A function that is not supported.
    #[error("unknown function `{name}`")]
    UnknownFunction {
        /// The function name as written.
        name: String,
    },
    /// A function called with the wrong number of arguments.
    #[error("`{name}` takes {expected}, found {found}")]
    Arity {
        /// The function name.
        name: String,
        /// How many it takes, e.g. `2 arguments`.
        expected: String,
        /// How many were given.
        found: usize,
    },
    /// Operands whose types do not fit together, e.g. a number compared with a string.
    #[error("{0}")]
    Type(String),
    /// A value that is well typed but unusable: an arithmetic overflow, a division by zero, a negative length,
    /// a malformed DE-9IM pattern.
    #[error("{0}")]
    Value(String),
    /// A `$`-option that SensorThings does not define.
    #[error("unknown query option `{option}`")]
    UnknownOption {
        /// The key as written, e.g. `$foo`.
        option: String,
    },
    /// A query option with an invalid value, e.g. `$top=-1`, or given twice.
    #[error("invalid `{option}`: {message}")]
    InvalidOption {
        /// The key, e.g. `$top`.
        option: String,
        /// What is wrong with the value.
        message: String,
    },
    /// An error inside the value of the query option `option`.
    #[error("in `{option}`: {error}")]
    InOption {
        /// The key, e.g. `$filter`.
        option: String,
        /// The error, positions relative to the option's value (shown in this error's message, so not its
        /// `source()`).
        error: Box<FilterError>,
    },
}

impl FilterError {
    pub(super) fn syntax(pos: usize, message: impl Into<String>) -> Self {
        Self::Syntax { pos, message: message.into() }
    }

    /// Moves byte positions by `by`: positions inside a nested option become positions in the outer value.
    pub(super) fn shifted(self, by: usize) -> Self {
        match self {
            Self::Syntax { pos, message } => Self::Syntax { pos: pos + by, message },
            Self::TooDeep { pos, max } => Self::TooDeep { pos: pos + by, max },
            Self::InOption { option, error } => Self::InOption { option, error: Box::new(error.shifted(by)) },
            other => other,
        }
    }

    /// Says which query option the error is in, unless it already names that option.
    pub(super) fn in_option(self, key: &str) -> Self {
        match &self {
            Self::UnknownOption { option } | Self::InvalidOption { option, .. } if option == key => self,
            _ => Self::InOption { option: key.to_owned(), error: Box::new(self) },
        }
    }
}
