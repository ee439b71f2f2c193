//! Names in the order Chinese readers expect (by pinyin, syllable by syllable, then tone,
//! then character; ADR 0023) and found by what a coordinator types: part of the name, its
//! pinyin (`zhangjianguo`, `zhang jianguo`) or its initials (`zjg`).

use std::cmp::Ordering;

use pinyin::ToPinyin;

/// Surnames whose reading differs from the character's most common one (the `pinyin`
/// crate gives the common reading: 曾 céng, 单 dān). Only the first character of a name
/// is read as a surname.
const SURNAMES: &[(char, &str, u8)] = &[
    ('曾', "zeng", 1),
    ('单', "shan", 4),
    ('解', "xie", 4),
    ('区', "ou", 1),
    ('仇', "qiu", 2),
    ('朴', "piao", 2),
    ('查', "zha", 1),
    ('盖', "ge", 3),
    ('乐', "yue", 4),
    ('缪', "miao", 4),
    ('翟', "zhai", 2),
    ('覃', "qin", 2),
    ('召', "shao", 4),
    ('重', "chong", 2),
    ('种', "chong", 2),
    ('长', "chang", 2),
];

/// One character of a name as it sorts: its syllable (or the character itself, lower
/// case, for anything that is not a Chinese character), its tone, the character.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Syllable {
    sound: String,
    tone: u8,
    character: char,
}

/// The sort key of a name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NameKey(Vec<Syllable>);

/// The key that sorts `name` by pinyin.
pub fn key(name: &str) -> NameKey {
    NameKey(name.trim().chars().enumerate().map(|(i, c)| syllable(c, i == 0)).collect())
}

fn syllable(character: char, first: bool) -> Syllable {
    if first && let Some((_, sound, tone)) = SURNAMES.iter().find(|(c, ..)| *c == character) {
        return Syllable { sound: (*sound).to_owned(), tone: *tone, character };
    }
    match character.to_pinyin() {
        Some(p) => {
            let numbered = p.with_tone_num_end();
            let tone = numbered.chars().last().and_then(|d| d.to_digit(10)).map_or(5, |d| d as u8);
            Syllable { sound: p.plain().to_owned(), tone, character }
        }
        None => Syllable { sound: character.to_lowercase().collect(), tone: 0, character },
    }
}

/// Compares two names by pinyin.
pub fn compare(a: &str, b: &str) -> Ordering {
    key(a).cmp(&key(b))
}

/// Sorts `items` by the name `name` gives each, in pinyin order.
pub fn sort_by_name<T>(items: &mut [T], name: impl Fn(&T) -> &str) {
    items.sort_by_cached_key(|item| key(name(item)));
}

/// Whether `name` is what `query` asks for: the query (trimmed, any case, spaces ignored)
/// is part of the name, of its pinyin, or the start of its initials. An empty query
/// matches every name.
pub fn name_matches(name: &str, query: &str) -> bool {
    let query: String = query.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect();
    if query.is_empty() {
        return true;
    }
    let name = name.trim();
    if name.to_lowercase().contains(&query) {
        return true;
    }
    let syllables: Vec<Syllable> = name.chars().enumerate().map(|(i, c)| syllable(c, i == 0)).collect();
    let spelled: String = syllables.iter().map(|s| s.sound.as_str()).collect();
    let initials: String = syllables.iter().filter_map(|s| s.sound.chars().next()).collect();
    spelled.contains(&query) || initials.starts_with(&query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_pinyin_not_by_code_point() {
        let mut names = vec!["张建国", "王芳", "李伟", "陈秀英", "孙桂兰", "Anna", "刘洋", "李红梅"];
        sort_by_name(&mut names, |n| n);
        // Code-point order would put 刘 (U+5218) before 孙 (U+5B59), 张 before 李 (U+674E) and 王 (U+738B).
        assert_eq!(names, ["Anna", "陈秀英", "李红梅", "李伟", "刘洋", "孙桂兰", "王芳", "张建国"]);
    }

    #[test]
    fn surnames_are_read_as_surnames() {
        // 曾 as a surname is zēng (after 张 zhāng would be wrong: z-e < z-h), 单 is shàn.
        assert_eq!(compare("曾文", "张三"), Ordering::Less);
        assert_eq!(compare("单明", "孙丽"), Ordering::Less);
        assert!(name_matches("曾文", "zengwen"));
        assert!(name_matches("单明", "sm"));
    }

    #[test]
    fn a_name_is_found_by_part_pinyin_or_initials() {
        for query in ["建国", "张", "zhangjianguo", "Zhang Jianguo", "jianguo", "zjg", "zj", "  "] {
            assert!(name_matches("张建国", query), "{query}");
        }
        for query in ["王", "wang", "jg", "zjgx"] {
            assert!(!name_matches("张建国", query), "{query}");
        }
        assert!(name_matches("Anna Li", "anna"));
    }

    #[test]
    fn the_same_syllable_sorts_by_tone_then_character() {
        assert_eq!(compare("妈", "马"), Ordering::Less, "mā before mǎ");
    }
}
